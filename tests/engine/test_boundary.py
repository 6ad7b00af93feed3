"""The engine package is the one place of the library that imports Pulumi's SDK (the test kit may too)."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_pulumi_decorators

PACKAGE = Path(airflow_pulumi_decorators.__file__).parent
ALLOWED = ("engine/", "testing/")


def _pulumi_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names if name.split(".")[0] in ("pulumi", "pulumi_gcp")]
    return found


def test_only_the_engine_package_imports_pulumi():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(ALLOWED):
            continue
        if imports := _pulumi_imports(path):
            offenders[relative] = imports
    assert offenders == {}


def test_the_scan_sees_a_pulumi_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pulumi.automation import PulumiCommand\n    import pulumi_gcp.storage\n")
    assert _pulumi_imports(module) == ["line 2: pulumi.automation", "line 3: pulumi_gcp.storage"]
