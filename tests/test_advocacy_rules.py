"""Advocacy's pure rules (issue #16 items 3 and 4): UTM links, near-identical shares, PKCE.

Expected values are written from the issue's policy and RFC 7636, not recorded from the code."""

from __future__ import annotations

import pytest

from shared.advocacy.links import tag_link, tag_links
from shared.advocacy.pkce import challenge_s256, new_verifier, verifies
from shared.advocacy.similarity import closest, jaccard, near_duplicate, normalised_words

UTM = "utm_source=x&utm_medium=advocacy&utm_campaign=story-42&utm_content=agence-lyon"


def tag(url: str) -> str:
    return tag_link(url, network="x", story_id="story-42", agency="agence-lyon")


@pytest.mark.parametrize(
    ("url", "tagged"),
    [
        ("https://francetravail.fr/salon", f"https://francetravail.fr/salon?{UTM}"),
        ("https://francetravail.fr", f"https://francetravail.fr/?{UTM}"),
        # Other parameters kept byte for byte, in their order, whatever their encoding.
        (
            "https://candidat.francetravail.fr/offres?motsCles=aide%20soignant&lieu=69+Lyon&x",
            f"https://candidat.francetravail.fr/offres?motsCles=aide%20soignant&lieu=69+Lyon&x&{UTM}",
        ),
        # Existing utm_* replaced, however they are written; a parameter merely containing utm_ stays.
        (
            "https://a.fr/p?utm_source=facebook&id=7&UTM_Campaign=old&utm%5Fmedium=mail&not_utm_x=1",
            f"https://a.fr/p?id=7&not_utm_x=1&{UTM}",
        ),
        ("https://a.fr/p?utm_source=x&utm_medium=advocacy", f"https://a.fr/p?{UTM}"),
        # The fragment stays last.
        ("https://a.fr/p?id=7#postuler", f"https://a.fr/p?id=7&{UTM}#postuler"),
    ],
)
def test_a_shared_link_carries_the_advocacy_utm_parameters(url: str, tagged: str) -> None:
    assert tag(url) == tagged


def test_utm_values_are_encoded() -> None:
    tagged = tag_link("https://a.fr/", network="linkedin", story_id="salon emploi&co", agency="a/b")
    assert tagged.endswith("utm_campaign=salon%20emploi%26co&utm_content=a%2Fb")


def test_tagging_twice_gives_the_same_link() -> None:
    once = tag("https://a.fr/p?id=7")
    assert tag(once) == once


def test_only_web_links_are_tagged() -> None:
    with pytest.raises(ValueError):
        tag("mailto:contact@francetravail.fr")


def test_every_link_with_its_scheme_in_a_text_is_tagged_and_nothing_else_changes() -> None:
    text = "Salon jeudi : https://a.fr/salon et https://b.fr/?id=1#x, infos sur francetravail.fr #emploi"
    assert tag_links(text, network="x", story_id="story-42", agency="agence-lyon") == (
        f"Salon jeudi : https://a.fr/salon?{UTM} et https://b.fr/?id=1&{UTM}#x, "
        "infos sur francetravail.fr #emploi"
    )


STORY_TAG = "AvecPôleEmploi"
SUGGESTED = "Rejoignez-nous jeudi au salon de l'emploi de Lyon : 80 recruteurs vous attendent"


def test_words_leave_out_links_the_story_hashtag_case_accents_and_punctuation() -> None:
    text = "SALON de l'Emploi, à Lyon ! https://a.fr/s?utm_source=x #AvecPoleEmploi #Lyon"
    assert normalised_words(text, story_hashtag="#AvecPôleEmploi") == [
        "salon", "de", "l", "emploi", "a", "lyon", "lyon",
    ]  # fmt: skip


def test_arabic_vowel_marks_and_tatweel_do_not_make_a_text_different() -> None:
    plain = "انضموا إلينا في معرض التشغيل"
    decorated = "انضمُّوا إلـــينا فِي مَعرض التشغيل"
    assert normalised_words(plain) == normalised_words(decorated)


def test_one_word_changed_in_ten_is_still_near_identical_two_are_not() -> None:
    # 10 distinct words; one changed: 9 shared of 11 (0.82); two changed: 8 of 12 (0.67).
    base = "venez rencontrer quatre vingts recruteurs jeudi matin au salon lyonnais"
    one = "venez rencontrer quatre vingts employeurs jeudi matin au salon lyonnais"
    two = "venez rencontrer quatre vingts employeurs vendredi matin au salon lyonnais"
    assert jaccard(base.split(), one.split()) == pytest.approx(9 / 11)
    assert near_duplicate(base, one)
    assert not near_duplicate(base, two)


def test_the_same_text_with_another_link_and_the_story_hashtag_is_a_duplicate() -> None:
    mine = f"{SUGGESTED} https://a.fr/salon #{STORY_TAG}"
    theirs = f"{SUGGESTED.upper()} !! https://bit.ly/xyz"
    assert near_duplicate(mine, theirs, story_hashtag=STORY_TAG)


def test_texts_of_only_a_link_and_the_hashtag_are_the_same_text() -> None:
    assert near_duplicate(
        "https://a.fr #AvecPôleEmploi", "#avecpoleemploi https://b.fr", story_hashtag=STORY_TAG
    )


def test_an_advisors_own_words_are_not_a_duplicate() -> None:
    mine = "Mon agence de Vénissieux sera au salon jeudi, passez nous voir pour parler de vos projets"
    assert not near_duplicate(mine, SUGGESTED, story_hashtag=STORY_TAG)


def test_closest_names_the_most_similar_near_identical_share() -> None:
    others = [
        ("s1", "Mon agence sera au salon jeudi, venez"),
        ("s2", SUGGESTED.replace("Lyon", "Villeurbanne")),
        ("s3", SUGGESTED + " #" + STORY_TAG),
    ]
    found = closest(SUGGESTED, others, story_hashtag=STORY_TAG)
    assert found is not None and found.share_id == "s3" and found.score == 1.0
    assert closest("Tout autre chose à dire aujourd'hui", others, story_hashtag=STORY_TAG) is None


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    assert (
        challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_a_new_verifier_is_43_unreserved_characters_and_never_repeats() -> None:
    verifiers = {new_verifier() for _ in range(100)}
    assert len(verifiers) == 100
    for verifier in verifiers:
        assert len(verifier) == 43 and verifies(verifier, challenge_s256(verifier))


@pytest.mark.parametrize("verifier", ["short", "x" * 129, "a" * 42 + "+", "é" * 43])
def test_a_verifier_outside_the_rfc_grammar_is_refused(verifier: str) -> None:
    with pytest.raises(ValueError):
        challenge_s256(verifier)
    assert not verifies(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


def test_a_wrong_verifier_does_not_verify() -> None:
    assert not verifies(new_verifier(), challenge_s256(new_verifier()))
