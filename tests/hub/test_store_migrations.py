"""The hub's store and its migrations (issue 13: `store.py` ↔ `post_states.py` imported each other,
and migration m006 ran the dashboard's live fold).

Policy, by hand:
- no module of the hub imports, directly or through others (at module level or inside a function),
  a module that imports it back;
- a migration runs the code of its day: it calls nothing of the hub's live code but the audit's hash
  (`services.hub.chain`, a format fixed for ever since `relais audit verify` recomputes every past
  entry with it), and imports nothing;
- a hub upgraded from before the dashboard existed shows its posts' states once it has started.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sqlite_utils

from services.hub import store
from services.hub.events import Broadcaster, PostChanges
from services.hub.store import append_event, migrations, open_store

HUB = Path(store.__file__).parent
MIGRATIONS_MAY_CALL = {"GENESIS", "entry_hash"}  # services.hub.chain: the audit's hash format


def hub_imports(module: Path) -> set[str]:
    """The hub modules `module` imports anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n.removeprefix("services.hub.") for n in names if n.startswith("services.hub.")}
    return found & {p.stem for p in HUB.glob("*.py")}


def test_no_hub_module_imports_one_that_imports_it_back() -> None:
    graph = {p.stem: hub_imports(p) for p in HUB.glob("*.py")}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            module, path = stack.pop()
            for imported in graph[module]:
                if imported == start:
                    cycles.append(" → ".join([*path, start]))
                elif imported not in seen:
                    seen.add(imported)
                    stack.append((imported, [*path, imported]))
    assert cycles == []


def test_migrations_run_none_of_the_hubs_live_code() -> None:
    tree = ast.parse(Path(store.__file__).read_text())
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("services.")
        for alias in node.names
    }
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Call) and ast.unparse(d.func) == "migrations" for d in node.decorator_list)
    }
    assert "m006_dashboard" in functions
    for name, function in functions.items():
        inner = list(ast.walk(function))
        assert not [n for n in inner if isinstance(n, ast.Import | ast.ImportFrom)], name
        used = {n.id for n in inner if isinstance(n, ast.Name)}
        assert used & imported <= MIGRATIONS_MAY_CALL, name


def event(db: sqlite_utils.Database, n: int, post_id: str, name: str, **fields: object) -> None:
    append_event(
        db,
        source=f"old:{n}",
        occurred_at=f"2026-01-01T10:00:{n:02d}.000Z",
        post_id=post_id,
        agency="lyon",
        event=name,
        actor=str(fields.pop("actor", "someone")),
        **fields,  # type: ignore[arg-type]
    )


def test_a_hub_upgraded_from_before_the_dashboard_shows_its_posts_states(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before="m006_dashboard")
    event(old, 1, "lyon-1", "received")
    event(old, 2, "lyon-1", "targeted", detail={"pages": [["x", "lyon-x", "lyon"]]})
    event(old, 3, "lyon-1", "approved")
    event(old, 4, "lyon-1", "delivery.published", network="x", page="lyon-x", detail={"remote_id": "1"})
    event(old, 5, "lyon-2", "received")
    event(old, 6, "lyon-2", "rejected", detail={"reason": "hors sujet"})
    event(old, 7, "lyon-3", "received")
    old.close()

    db = open_store(path)
    try:
        PostChanges(db, Broadcaster()).catch_up()  # what the hub's start does
        posts = db.execute("select post_id, agency, status, reason from post_states order by post_id")
        assert posts.fetchall() == [
            ("lyon-1", "lyon", "published", None),
            ("lyon-2", "lyon", "rejected", "hors sujet"),
            ("lyon-3", "lyon", "received", None),
        ]
        deliveries = db.execute("select post_id, page, network, status, throttled_until from delivery_states")
        assert deliveries.fetchall() == [("lyon-1", "lyon-x", "x", "published", None)]
        # Everything is folded: the next start has nothing left to do.
        assert db.execute("select audit_id from fold_mark").fetchone()[0] == 7
    finally:
        db.close()
