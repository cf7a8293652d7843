"""The bus contract's names mean one thing (issue 13: `shared.schemas.DeliveryError`, the error a
delivery message reports, sat beside the adapters' `DeliveryError` exception, and the dispatcher
imported one in `service.py` and the other in `outbox.py`).

Policy, by hand: no class of the code (services, shared, relais) has the name of a class of the bus
contract (`shared/schemas.py`) unless it is that class.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "shared" / "schemas.py"


def classes(module: Path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(module.read_text())) if isinstance(node, ast.ClassDef)}


def test_no_class_takes_the_name_of_a_class_of_the_bus_contract() -> None:
    contract = classes(CONTRACT)
    clashes = {
        f"{module.relative_to(ROOT)}:{name}"
        for folder in ("services", "shared", "relais")
        for module in (ROOT / folder).rglob("*.py")
        if module != CONTRACT
        for name in classes(module) & contract
    }
    assert clashes == set()
