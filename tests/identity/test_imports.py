"""Importing the identity package must stay cheap: the DAG processor imports it on every parse."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_pulumi_decorators.identity as identity_package

CHECK = """
import sys
import airflow_pulumi_decorators.identity as identity
from airflow_pulumi_decorators.identity import *  # noqa: F403
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("pulumi", "grpc") or m.startswith(("google.auth", "airflow.sdk")) or m == "airflow"
)
assert not heavy, heavy
print(len(identity.__all__))
"""


def test_import_pulls_in_neither_google_auth_nor_airflow_sdk_nor_pulumi() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 8


def test_all_names_exist() -> None:
    import airflow_pulumi_decorators.identity as identity

    for name in identity.__all__:
        assert hasattr(identity, name), name
    for name in (
        "GkeMetadataServer", "WorkloadIdentityFederation", "ServiceAccountImpersonation", "ApplicationDefault",
        "Identity", "obtain_engine_credentials", "EngineCredentials", "CredentialMode", "identity_from_connection",
    ):
        assert name in identity.__all__


PACKAGE = "airflow_pulumi_decorators.identity"
MODULES = sorted(p.stem for p in Path(identity_package.__file__).parent.glob("*.py") if p.stem != "__init__")


def _imports_of(path: Path, *, typing_too: bool = False) -> set[str]:
    """The identity modules *path* imports, at the top or inside functions; for typing only too if *typing_too*."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = set() if typing_too else {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(
            name.rsplit(".", 1)[-1]
            for name in names
            if name.startswith(PACKAGE + ".") and name.rsplit(".", 1)[-1] in MODULES
        )
    return found


def test_identity_modules_import_each_other_without_a_cycle() -> None:
    # Lazy (function-level) imports count: a cycle through one still ties the modules together.
    root = Path(identity_package.__file__).parent
    graph = {name: _imports_of(root / f"{name}.py") - {name} for name in MODULES}
    assert graph["base"] <= {"engine_env"}, graph["base"]  # the abstraction knows no source
    _assert_no_cycle(graph)


def test_typing_only_imports_make_no_cycle_either() -> None:
    # The interface and the sources name the impersonation on top as engine_env.ImpersonationOnTop, so even
    # for the type checker impersonation -> base is the only way round.
    root = Path(identity_package.__file__).parent
    graph = {name: _imports_of(root / f"{name}.py", typing_too=True) - {name} for name in MODULES}
    assert graph["base"] <= {"engine_env"}, graph["base"]
    assert graph["engine_env"] == set(), graph["engine_env"]
    _assert_no_cycle(graph)


def _assert_no_cycle(graph: dict[str, set[str]]) -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path, name))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, (*path, name))
        done.add(name)

    for name in MODULES:
        visit(name, ())


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    check = (
        "import sys\n"
        f"import {PACKAGE}.{module}\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'grpc')\n"
        "    or m.startswith(('google.auth', 'airflow.sdk')) or m == 'airflow')\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
