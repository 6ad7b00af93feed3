"""Who may import whom inside the package: the cli package never imports the engine, the engine nothing above
it, and no production module knows the stand-in (the test kit's offline engine)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import airflow_pulumi_decorators

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
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
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
        tree = ast.parse(path.read_text(), str(path))
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
