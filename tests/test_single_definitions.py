"""A closed set of names (a `Literal` type) is defined once, and every contract that takes it uses
that one definition (issue 13: the fitting policy, `thread`/`truncate`/`reject`, was written out in
the bus contract, the HTTP contract and the networks' rules, free to drift apart).

Policy, by hand: no two module-level `Literal[...]` aliases of the code (services, shared, relais)
hold the same values.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ("services", "shared", "relais")


def literal_aliases(module: Path) -> list[tuple[str, frozenset[object]]]:
    """(name, values) of each `NAME = Literal[...]` (or `NAME: TypeAlias = Literal[...]`) at module level."""
    found = []
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not (isinstance(value, ast.Subscript) and ast.unparse(value.value).endswith("Literal")):
            continue
        items = value.slice.elts if isinstance(value.slice, ast.Tuple) else [value.slice]
        values = frozenset(item.value for item in items if isinstance(item, ast.Constant))
        found.append((ast.unparse(target), values))
    return found


def test_each_closed_set_of_names_is_defined_once() -> None:
    definitions: dict[frozenset[object], list[str]] = defaultdict(list)
    for folder in CODE:
        for module in sorted((ROOT / folder).rglob("*.py")):
            for name, values in literal_aliases(module):
                definitions[values].append(f"{module.relative_to(ROOT)}:{name}")
    assert {tuple(sorted(map(str, v))): d for v, d in definitions.items() if len(d) > 1} == {}


def test_the_fitting_policy_is_one_type_for_the_contracts_and_the_rules() -> None:
    from shared import networks, post_api, post_input, schemas
    from shared.fitting_policy import FITTING_POLICIES, FittingPolicy

    assert FITTING_POLICIES == ("thread", "truncate", "reject")
    assert networks.Policy is FittingPolicy
    assert schemas.PostReceived.__annotations__["policy"] == "dict[str, FittingPolicy]"
    assert schemas.FittingPolicy is FittingPolicy  # type: ignore[attr-defined]
    assert post_api.FittingPolicy is FittingPolicy  # type: ignore[attr-defined]
    assert post_input.FittingPolicy is FittingPolicy  # type: ignore[attr-defined]
