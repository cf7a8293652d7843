"""A network is one registered unit: every layer has it, with the capabilities registered for it.

The expected sets come from `shared.networks.NETWORKS`, the one list written by hand; each layer's
own registration (the dispatcher's adapters, the sandbox's emulators) must name exactly those
networks and implement exactly their capabilities. A capability no network has yet
(`read_comments`, `reply`, `personal_accounts`) is already checked: registering it for a network
fails here until every layer implements it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import aiohttp
import pytest
from pytest_aiohttp import AiohttpClient

from services.dispatcher.adapters import ADAPTERS, adapter_for
from services.dispatcher.limits import DEFAULT_LIMITS, DEFAULT_QUOTAS
from services.hub.chart import color_of
from services.sandbox.app import create_app
from services.sandbox.emulators import EMULATORS
from services.sandbox.settings import Settings
from shared.networks import NETWORKS, get_rules, render_for_network
from shared.networks.facts import CAPABILITIES, MEDIA_KINDS, QuotaCall
from shared.networks.registry import check_layer

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")

# What an adapter must have for each capability it declares (None: declared, checked elsewhere). A
# reply needs its reconciliation too: the dispatcher looks for an interrupted one before sending again.
ADAPTER_METHODS: dict[str, tuple[str, ...] | None] = {
    "publish": ("publish",),
    "images": None,
    "video": None,
    "documents": None,
    "read_back": ("find",),
    "read_comments": ("read_comments",),
    "reply": ("reply", "find_reply"),
    "hide_comments": ("hide_comment",),
    "read_engagement": ("read_engagement",),
    "personal_accounts": None,
}


def test_every_capability_has_a_rule_for_adapters() -> None:
    assert set(ADAPTER_METHODS) == CAPABILITIES


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_network_has_its_rules(name: str) -> None:
    entry = NETWORKS[name]
    assert entry.rules.name == name
    assert get_rules(name).name == name
    kind = (
        "image"
        if "images" in entry.capabilities
        else "video"
        if "video" in entry.capabilities
        else "document"
    )
    rendering = render_for_network(name, "Bonjour Lyon", title="Bonjour", media=[kind])
    assert rendering.errors == [] and rendering.parts


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_network_has_rate_limits_the_dispatcher_starts_from(name: str) -> None:
    limits, quota = NETWORKS[name].rate_limits, NETWORKS[name].quota
    windows = [window for window in (limits.page, limits.app) if window is not None]
    assert windows or quota is not None, f"{name} has no rate limit at all"
    assert all(count > 0 and seconds > 0 for count, seconds in windows)
    assert DEFAULT_LIMITS[name] == limits
    if quota is not None:  # a quota in units prices every kind of call, and keeps something of each
        assert set(quota.costs) == set(quota.floors) == set(get_args(QuotaCall))
        assert all(0 < quota.costs[kind] and 0 <= quota.floors[kind] < quota.units for kind in quota.costs)
        assert DEFAULT_QUOTAS[name] == quota


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_network_has_media_rules_matching_its_capabilities(name: str) -> None:
    entry = NETWORKS[name]
    assert entry.media.types and entry.media.types <= set(MEDIA_KINDS)
    kinds = {MEDIA_KINDS[content_type] for content_type in entry.media.types}
    assert ("video" in kinds) == ("video" in entry.capabilities)
    assert bool(kinds & {"image", "gif"}) == ("images" in entry.capabilities)
    assert ("document" in kinds) == ("documents" in entry.capabilities)
    assert "publish" in entry.capabilities
    assert entry.capabilities <= CAPABILITIES


def test_every_network_has_a_colour_of_its_own_on_the_dashboard() -> None:
    colours = {name: color_of(name) for name in NETWORKS}
    assert len(set(colours.values())) == len(NETWORKS), colours


def test_the_adapters_are_exactly_the_registered_networks() -> None:
    assert list(ADAPTERS) == list(NETWORKS)


@pytest.mark.parametrize("name", list(NETWORKS))
async def test_every_network_has_an_adapter_implementing_its_capabilities(name: str) -> None:
    registered = NETWORKS[name].capabilities
    async with aiohttp.ClientSession() as http:
        adapter = adapter_for(name, http)
    assert adapter.network == name
    assert getattr(adapter, "label", NETWORKS[name].title) == NETWORKS[name].title
    assert adapter.capabilities == registered
    assert adapter.can_read_back == ("read_back" in registered)
    for capability in registered:
        for method in ADAPTER_METHODS[capability] or ():
            assert callable(getattr(adapter, method, None)), f"{name} adapter lacks {method}"


def test_the_emulators_are_exactly_the_registered_networks() -> None:
    assert set(EMULATORS) == set(NETWORKS)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_network_has_an_emulator_of_its_capabilities(name: str) -> None:
    assert EMULATORS[name].capabilities == NETWORKS[name].capabilities


@pytest.mark.parametrize("name", list(NETWORKS))
async def test_every_networks_emulator_takes_faults(
    name: str, aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    sandbox = await aiohttp_client(create_app(Settings(data_dir=tmp_path / "data")))
    answer = await sandbox.post(
        "/_sandbox/faults", json={"network": name, "account": "lyon", "mode": "blocked"}
    )
    assert answer.status == 201


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_network_has_a_row_in_the_readmes_network_table(name: str) -> None:
    block = README.split("| network | upload | attached as |")[1].split("\n\n")[0]
    named = {
        title.strip()
        for row in block.strip().splitlines()[1:]
        for title in row.strip("|").split("|")[0].split(",")
    }
    assert NETWORKS[name].title in named


def test_a_layer_that_misses_or_adds_a_network_is_refused() -> None:
    everything = dict.fromkeys(NETWORKS, object())
    check_layer("complete", everything)
    with pytest.raises(RuntimeError, match="no entry for \\['youtube'\\]"):
        check_layer("half-added", {k: v for k, v in everything.items() if k != "youtube"})
    with pytest.raises(RuntimeError, match="unregistered \\['google_plus'\\]"):
        check_layer("stray", {**everything, "google_plus": object()})


def _imports(path: Path, package: str) -> set[str]:
    """The modules of `package` that `path` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                names.add(node.module or "")
                names |= {alias.name for alias in node.names} if node.module is None else set()
            elif (node.module or "").startswith(f"{package}."):
                names.add((node.module or "").removeprefix(f"{package}."))
    return names


@pytest.mark.parametrize(
    "folder", ["services/dispatcher/adapters", "services/sandbox", "shared/networks"], ids=str
)
def test_no_import_cycle_among_a_layers_modules(folder: str) -> None:
    package = folder.replace("/", ".")
    modules = {path.stem: path for path in (REPO / folder).glob("*.py") if path.stem != "__init__"}
    graph = {name: _imports(path, package) & set(modules) for name, path in modules.items()}

    def cycle_from(start: str, trail: tuple[str, ...]) -> tuple[str, ...] | None:
        for target in graph[start]:
            if target in trail:
                return (*trail, target)
            if (found := cycle_from(target, (*trail, target))) is not None:
                return found
        return None

    cycles = [found for name in graph if (found := cycle_from(name, (name,))) is not None]
    assert cycles == []


def test_the_list_of_networks_is_written_only_in_the_registry() -> None:
    """No other module spells out the list of networks again (all, or all but two, in one literal).

    Subsets chosen for a reason (a demo's networks, a fixture's) are not lists of the networks."""
    names = set(NETWORKS)
    registrations = {REPO / "shared/networks/registry.py", REPO / "services/sandbox/emulators.py"}
    written_again = []
    for folder in ("services", "shared", "relais"):
        for path in (REPO / folder).rglob("*.py"):
            if path in registrations:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
                    items = node.keys if isinstance(node, ast.Dict) else node.elts
                    spelled = {i.value for i in items if isinstance(i, ast.Constant) and i.value in names}
                    if len(spelled) >= len(names) - 2:
                        written_again.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert written_again == []


def test_the_readme_network_table_names_no_unregistered_network() -> None:
    block = README.split("| network | upload | attached as |")[1].split("\n\n")[0]
    titles = {entry.title for entry in NETWORKS.values()}
    for row in block.strip().splitlines()[1:]:
        for title in re.split(r",\s*", row.strip("|").split("|")[0].strip()):
            assert title in titles


def _network_modules(folder: str) -> dict[str, Path]:
    return {path.stem: path for path in (REPO / folder).glob("*.py") if path.stem in NETWORKS}


@pytest.mark.parametrize("folder", ["services/dispatcher/adapters", "services/sandbox"], ids=str)
def test_no_network_module_imports_another_networks(folder: str) -> None:
    """What two networks share lives in a shared module (graph.py, skeleton.py, posting.py), not in
    one network's module that the other imports (as Instagram and Threads imported Facebook's)."""
    package = folder.replace("/", ".")
    modules = _network_modules(folder)
    borrowed = {
        name: sorted(_imports(path, package) & (set(modules) - {name}))
        for name, path in modules.items()
        if _imports(path, package) & (set(modules) - {name})
    }
    assert borrowed == {}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_emulator_takes_faults_rates_and_storage_through_the_posting_helper(name: str) -> None:
    """No emulator handles a fault or stores a post by itself, and no posting handler counts a rate
    window by itself: `Posting` does (reads keep their own windows)."""
    source = (REPO / "services/sandbox" / f"{name}.py").read_text(encoding="utf-8")
    assert re.findall(r"\b(?:before|after)_create\(|\[FAULTS\]", source) == []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = ast.get_source_segment(source, node) or ""
            if "Posting.start" in body or "posting." in body:
                by_itself = re.findall(r"\[RATES\]|\[STORE\]\.add", body)
                assert by_itself == [], f"{name}.{node.name} counts or stores by itself"
