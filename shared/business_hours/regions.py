"""Which calendar runs a conversation's clock: its agency's (configuration only), else its region's.

Region ids are the registry's (the `region` column of services/federation/data/*.csv: the slug of the
region's name). The registry today holds metropolitan France's 13 regions; the overseas ones and
Morocco's 12 are named the same way (`slug()` of services/federation/data/generate_fixture.py).
"""

from __future__ import annotations

from shared.business_hours.calendars import Calendar
from shared.business_hours.overrides import DEFAULT_CALENDARS, Calendars

__all__ = ["REGION_CALENDARS", "calendar_for"]

METROPOLITAN_REGIONS = (
    "auvergne-rhone-alpes",
    "bourgogne-franche-comte",
    "bretagne",
    "centre-val-de-loire",
    "corse",
    "grand-est",
    "hauts-de-france",
    "ile-de-france",
    "normandie",
    "nouvelle-aquitaine",
    "occitanie",
    "pays-de-la-loire",
    "provence-alpes-cote-d-azur",
)
OVERSEAS_REGIONS = {
    "guadeloupe": "fr-guadeloupe",
    "martinique": "fr-martinique",
    "guyane": "fr-guyane",
    "la-reunion": "fr-reunion",
    "mayotte": "fr-mayotte",
}
MOROCCAN_REGIONS = (
    "tanger-tetouan-al-hoceima",
    "l-oriental",
    "fes-meknes",
    "rabat-sale-kenitra",
    "beni-mellal-khenifra",
    "casablanca-settat",
    "marrakech-safi",
    "draa-tafilalet",
    "souss-massa",
    "guelmim-oued-noun",
    "laayoune-sakia-el-hamra",
    "dakhla-oued-ed-dahab",
)
REGION_CALENDARS: dict[str, str] = {
    **dict.fromkeys(METROPOLITAN_REGIONS, "fr-metropole"),
    **OVERSEAS_REGIONS,
    **dict.fromkeys(MOROCCAN_REGIONS, "ma"),
}


def calendar_for(
    region: str, agency: str | None = None, overrides: Calendars = DEFAULT_CALENDARS
) -> Calendar:
    """The agency's calendar when configuration gives it one, else the region's (configuration's,
    else the default above). A region nobody gave a calendar is an error, not a guess: a clock on
    the wrong continent's hours would be silently wrong for every message of that region."""
    if agency is not None and agency in overrides.agencies:
        return overrides.get(overrides.agencies[agency])
    calendar_id = overrides.regions.get(region) or REGION_CALENDARS.get(region)
    if calendar_id is None:
        raise LookupError(
            f"no calendar for region {region!r}: give it one under [regions] in RELAIS_CALENDARS_FILE"
        )
    return overrides.get(calendar_id)
