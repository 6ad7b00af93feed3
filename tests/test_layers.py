"""Who may import whom inside the package. Imports run one way through the rooms of a task's run: decorator →
operator → checks, prepare, publish → engine → cli, identity → the vocabulary; a module imports its own room
and the rooms below it, never one above (type-only and function-level imports count: they are arrows a reader
follows). In particular the cli package never imports the engine, the engine nothing above it, and no
production module knows the stand-in (the test kit's offline engine)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_pulumi_decorators
from tests.astparse import parse_file

PACKAGE = Path(airflow_pulumi_decorators.__file__).parent
ROOT = "airflow_pulumi_decorators"
#: What the engine serves: nothing it may import.
ABOVE_THE_ENGINE = ("operator", "backend", "prepare", "publish", "decorators", "provider", "hooks", "environments",
                    "connections", "identity", "assets", "links", "approvals", "testing")


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py")) if folder else sorted(PACKAGE.rglob("*.py"))


def _imported(path: Path) -> list[str]:
    """Every module ``path`` imports (relative imports resolved), at any depth of the file."""
    package = ".".join([ROOT, *path.relative_to(PACKAGE).parent.parts])
    found = []
    for node in ast.walk(parse_file(path)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names]
    return found


def _offenders(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    prefixes = tuple(f"{ROOT}.{name}" for name in forbidden)
    offenders = {}
    for path in _modules(folder):
        bad = sorted({m for m in _imported(path) if m in prefixes or m.startswith(tuple(p + "." for p in prefixes))})
        if bad:
            offenders[path.relative_to(PACKAGE).as_posix()] = bad
    return offenders


def test_the_cli_package_never_imports_the_engine():
    assert _offenders("cli", ("engine",)) == {}


def test_the_engine_imports_nothing_above_it():
    assert _offenders("engine", ABOVE_THE_ENGINE) == {}


def test_production_code_does_not_know_the_standin():
    """No production module imports the test kit or tells the stand-in apart (``"standin" in ...``)."""
    offenders = {}
    for path in _modules(""):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("testing/"):
            continue
        tree = parse_file(path)
        compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
        told_apart = [n.lineno for n in compares for c in ast.walk(n)
                      if isinstance(c, ast.Constant) and isinstance(c.value, str) and "standin" in c.value.lower()]
        kit = [m for m in _imported(path) if m == f"{ROOT}.testing" or m.startswith(f"{ROOT}.testing.")]
        if told_apart or kit:
            offenders[relative] = {"compares": told_apart, "imports": kit}
    assert offenders == {}


@pytest.mark.parametrize("source, expected", [
    ("from airflow_pulumi_decorators.engine import Engine", True),
    ("def f():\n    from ..engine.commands import install_pulumi_cli", True),
    ("from . import process", False),
])
def test_the_scan_sees_an_engine_import(tmp_path, source, expected):
    module = tmp_path / "cli" / "m.py"
    module.parent.mkdir()
    module.write_text(source)
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        assert bool(_offenders("cli", ("engine",))) is expected
    finally:
        PACKAGE = saved


# -- the rooms' floors -------------------------------------------------------------------------------------

NAME = "airflow_pulumi_decorators"

#: Each room's floor: a room imports rooms on its floor's level or lower, never higher. Rooms are modules or
#: sub-packages of the package; ``testing`` (the public test kit) and the package's entry points stand apart.
FLOORS: dict[str, int] = {
    "decorators": 9, "approvals": 9,
    "operator": 8, "secret_outputs": 8,
    "xcom_backend": 9,
    "checks": 7, "prepare": 7, "publish": 7,
    # The Pulumi view in Airflow's UI reads Airflow's database: a leaf beside publish (whose extra link takes
    # the stack page's address from ui.urls).
    "ui": 7,
    "engine": 6,
    "outputs": 5, "plans": 5,
    "operations": 4, "stack_task": 4,
    "environments": 3,
    "cli": 2, "identity": 2, "locks": 2, "connections": 2,
    "backend_url": 1, "names": 1, "settings": 1, "errors": 1, "_airflow": 1, "assets": 1, "lifecycle": 1,
}
APART = {"__init__", "provider", "hooks", "testing"}


def room(module: str) -> str | None:
    """``airflow_pulumi_decorators.prepare.backend`` → ``prepare``; ``None`` outside the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == NAME and len(parts) > 1 else (None if parts[0] != NAME else "__init__")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module of ours ``path`` imports, anywhere in it (functions and ``TYPE_CHECKING`` included)."""
    package = ".".join([NAME, *path.relative_to(PACKAGE).with_suffix("").parts[:-1]])
    found = []
    for node in ast.walk(parse_file(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.append((node.lineno, base))
            # ``from airflow_pulumi_decorators import checks`` imports the module ``checks``.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if base == NAME]
    return [(line, module) for line, module in found if module.split(".")[0] == NAME]


def upward_imports(path: Path) -> list[str]:
    own = room(".".join([NAME, *path.relative_to(PACKAGE).with_suffix("").parts]))
    if own in APART or own not in FLOORS:
        return []
    found = []
    for line, module in imports_of(path):
        target = room(module)
        if target in FLOORS and target != own and FLOORS[target] > FLOORS[own]:
            found.append(f"line {line}: {module} (floor {FLOORS[target]} above {own}'s {FLOORS[own]})")
    return found


def test_every_room_has_a_floor():
    rooms = {p.stem if p.is_file() else p.name
             for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert rooms - APART == set(FLOORS)


def test_no_import_runs_up_the_rooms():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if found := upward_imports(path):
            offenders[path.relative_to(PACKAGE).as_posix()] = found
    assert offenders == {}


def test_the_scan_sees_an_import_that_runs_up(tmp_path, monkeypatch):
    fake = tmp_path / NAME
    (fake / "engine").mkdir(parents=True)
    module = fake / "engine" / "run.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..publish import report\n"
        "def f():\n    from airflow_pulumi_decorators import operator\n"
    )
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert [line.split(" (")[0] for line in upward_imports(module)] == [
        "line 3: airflow_pulumi_decorators.publish",
        "line 5: airflow_pulumi_decorators.operator",
    ]
