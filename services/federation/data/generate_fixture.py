"""Generate `france_fixture.csv`: 13 regions, 220 agencies plus 13 regional directorates, ~1,000 pages.

Deterministic. Real region names, department codes and cities; agency names, handles and page ids
are made up.
Run: `python services/federation/data/generate_fixture.py` (rewrites the CSV beside it).
"""

from __future__ import annotations

import csv
import random
import unicodedata
from pathlib import Path

REGIONS: dict[str, tuple[str, list[tuple[str, list[str]]]]] = {
    "auvergne-rhone-alpes": (
        "Auvergne-Rhône-Alpes",
        [
            ("69", ["Lyon", "Villeurbanne", "Vénissieux", "Villefranche-sur-Saône"]),
            ("38", ["Grenoble", "Vienne"]),
            ("42", ["Saint-Étienne", "Roanne"]),
            ("63", ["Clermont-Ferrand"]),
            ("74", ["Annecy", "Annemasse"]),
            ("73", ["Chambéry"]),
            ("01", ["Bourg-en-Bresse"]),
            ("26", ["Valence"]),
            ("03", ["Montluçon"]),
        ],
    ),
    "bourgogne-franche-comte": (
        "Bourgogne-Franche-Comté",
        [
            ("21", ["Dijon", "Beaune"]),
            ("25", ["Besançon", "Montbéliard"]),
            ("71", ["Chalon-sur-Saône", "Mâcon"]),
            ("89", ["Auxerre"]),
            ("90", ["Belfort"]),
        ],
    ),
    "bretagne": (
        "Bretagne",
        [
            ("35", ["Rennes", "Saint-Malo"]),
            ("29", ["Brest", "Quimper"]),
            ("56", ["Lorient", "Vannes"]),
            ("22", ["Saint-Brieuc"]),
        ],
    ),
    "centre-val-de-loire": (
        "Centre-Val de Loire",
        [
            ("45", ["Orléans", "Montargis"]),
            ("37", ["Tours"]),
            ("18", ["Bourges"]),
            ("28", ["Chartres"]),
            ("41", ["Blois"]),
        ],
    ),
    "corse": ("Corse", [("2A", ["Ajaccio"]), ("2B", ["Bastia"])]),
    "grand-est": (
        "Grand Est",
        [
            ("67", ["Strasbourg", "Haguenau"]),
            ("68", ["Mulhouse", "Colmar"]),
            ("57", ["Metz", "Thionville"]),
            ("54", ["Nancy"]),
            ("51", ["Reims", "Châlons-en-Champagne"]),
            ("10", ["Troyes"]),
        ],
    ),
    "hauts-de-france": (
        "Hauts-de-France",
        [
            ("59", ["Lille", "Roubaix", "Tourcoing", "Dunkerque", "Valenciennes"]),
            ("62", ["Arras", "Lens", "Calais"]),
            ("80", ["Amiens"]),
            ("60", ["Beauvais", "Compiègne"]),
            ("02", ["Saint-Quentin"]),
        ],
    ),
    "ile-de-france": (
        "Île-de-France",
        [
            ("75", ["Paris"]),
            ("93", ["Saint-Denis", "Montreuil", "Aubervilliers"]),
            ("92", ["Nanterre", "Boulogne"]),
            ("94", ["Créteil", "Vitry-sur-Seine"]),
            ("91", ["Évry", "Massy"]),
            ("95", ["Cergy", "Argenteuil"]),
            ("78", ["Versailles", "Mantes-la-Jolie"]),
            ("77", ["Meaux", "Melun"]),
        ],
    ),
    "normandie": (
        "Normandie",
        [
            ("76", ["Rouen", "Le Havre", "Dieppe"]),
            ("14", ["Caen", "Lisieux"]),
            ("50", ["Cherbourg"]),
            ("27", ["Évreux"]),
            ("61", ["Alençon"]),
        ],
    ),
    "nouvelle-aquitaine": (
        "Nouvelle-Aquitaine",
        [
            ("33", ["Bordeaux", "Mérignac", "Libourne"]),
            ("87", ["Limoges"]),
            ("86", ["Poitiers"]),
            ("64", ["Pau", "Bayonne"]),
            ("17", ["La Rochelle"]),
            ("24", ["Périgueux"]),
            ("40", ["Mont-de-Marsan"]),
        ],
    ),
    "occitanie": (
        "Occitanie",
        [
            ("31", ["Toulouse", "Colomiers"]),
            ("34", ["Montpellier", "Béziers"]),
            ("30", ["Nîmes"]),
            ("66", ["Perpignan"]),
            ("65", ["Tarbes"]),
            ("81", ["Albi"]),
            ("11", ["Carcassonne"]),
        ],
    ),
    "pays-de-la-loire": (
        "Pays de la Loire",
        [
            ("44", ["Nantes", "Saint-Nazaire"]),
            ("49", ["Angers", "Cholet"]),
            ("72", ["Le Mans"]),
            ("85", ["La Roche-sur-Yon"]),
            ("53", ["Laval"]),
        ],
    ),
    "provence-alpes-cote-d-azur": (
        "Provence-Alpes-Côte d'Azur",
        [
            ("13", ["Marseille", "Aix-en-Provence", "Arles"]),
            ("06", ["Nice", "Cannes", "Antibes"]),
            ("83", ["Toulon", "Fréjus"]),
            ("84", ["Avignon"]),
            ("04", ["Digne-les-Bains"]),
        ],
    ),
}
QUARTERS = ["Centre", "Nord", "Sud", "Est", "Ouest", "Gare", "Université", "Port", "Zone d'activités"]
AGENCIES = 220
HEADER = [
    "region",
    "region_name",
    "department",
    "agency",
    "agency_name",
    "city",
    "timezone",
    "network",
    "page",
    "handle",
    "credentials_ref",
    "local_url",
]


def slug(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_.lower()).split())


def agencies(rng: random.Random) -> list[tuple[str, str, str, str, str]]:
    cities = [(r, name, d, c) for r, (name, deps) in REGIONS.items() for d, cs in deps for c in cs]
    made: list[tuple[str, str, str, str, str]] = []
    round_ = 0
    while len(made) < AGENCIES:
        for region, region_name, dep, city in cities:
            if len(made) == AGENCIES:
                break
            name = city if round_ == 0 else f"{city} {QUARTERS[(round_ - 1 + len(city)) % len(QUARTERS)]}"
            made.append((region, region_name, dep, slug(name), city))
        round_ += 1
    rng.shuffle(made)
    return sorted(made)


def rows() -> list[list[str]]:
    rng = random.Random(2026)
    out: list[list[str]] = []
    for region, region_name, dep, agency, city in agencies(rng):
        label = f"France Travail {city}" + (
            " " + agency.split("-")[-1].capitalize() if agency != slug(city) else ""
        )
        # Every agency has Facebook and X; most also have LinkedIn, Mastodon, Bluesky.
        networks = ["facebook", "x"] + [n for n in ("linkedin", "mastodon", "bluesky") if rng.random() < 0.8]
        for network in networks:
            page = f"{agency}-{network}"
            handle = {
                "facebook": str(100000000000 + rng.randrange(10**9)),
                "linkedin": str(rng.randrange(10**8)),
                "bluesky": f"ft-{agency}",
            }.get(network, f"ft_{agency.replace('-', '_')}"[:30])
            out.append(
                [
                    region,
                    region_name,
                    dep,
                    agency,
                    label,
                    city,
                    "Europe/Paris",
                    network,
                    page,
                    handle,
                    f"sandbox/{page}",
                    f"https://www.francetravail.fr/agences/{agency}",
                ]
            )
    for region, (region_name, deps) in REGIONS.items():  # one regional directorate per region
        agency, city = f"dr-{region}"[:60], deps[0][1][0]
        for network in ("x", "linkedin", "facebook"):
            page = f"{agency}-{network}"
            handle = str(rng.randrange(10**8)) if network != "x" else f"FT_{slug(region_name)[:20]}"
            out.append(
                [
                    region,
                    region_name,
                    deps[0][0],
                    agency,
                    f"France Travail {region_name}",
                    city,
                    "Europe/Paris",
                    network,
                    page,
                    handle,
                    f"sandbox/{page}",
                    f"https://www.francetravail.fr/regions/{region}",
                ]
            )
    return out


if __name__ == "__main__":
    target = Path(__file__).with_name("france_fixture.csv")
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows())
    print(f"wrote {target}")
