"""A post's fitting policy and content warning travel intake → federation → formatter, and the
networks receive what the preview showed: real processes, real sandbox networks."""

from __future__ import annotations

from tests.harness import RelaisSystem, http

TEXT = (
    "Job dating logistique jeudi 10 h à Lyon Part-Dieu\u202f! Plus de quarante entreprises recrutent "
    "des préparateurs de commandes, des caristes et des chauffeurs. Venez avec votre CV, des "
    "conseillers vous accueillent toute la journée, sans rendez-vous, et vous aident à préparer vos "
    "entretiens. #emploi"
)


def test_the_networks_receive_the_parts_the_preview_showed(relais: RelaisSystem) -> None:
    body = {
        "text": TEXT,
        "networks": ["x", "mastodon"],
        "policy": {"x": "truncate"},
        "content_warning": "CDI",
    }
    status, shown = http("POST", f"{relais.intake_url()}/v1/preview", body, token=relais.token())
    assert status == 200, shown
    expected = {v["network"]: [p["text"] for p in v["parts"]] for v in shown["variants"]}
    assert len(expected["x"]) == 1 and "…" in expected["x"][0]

    status, accepted = relais.post(body)
    assert status == 202, accepted
    relais.wait_status(accepted["id"], ("published",))
    received = {p["network"]: p["text"] for p in relais.sandbox_posts()}
    assert received["x"] == expected["x"][0]
    assert received["mastodon"] == expected["mastodon"][0]
