"""Cheap checks that keep the documentation site honest; no MkDocs needed (the strict build is
``bash scripts/docs.sh``).

- every error class in ``errors.py`` has a troubleshooting entry;
- every ``[pulumi]`` option the provider declares is in the configuration reference;
- every page in ``mkdocs.yml``'s nav exists, and every page under ``docs/`` is in the nav;
- every ``::: identifier`` of the API reference names something that exists in the source;
- the README says how to build the site and its links resolve.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from airflow_pulumi_decorators.provider import get_provider_info

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "airflow_pulumi_decorators"


class _Loader(yaml.SafeLoader):
    """Reads mkdocs.yml without importing what its ``!!python/name:`` tags name."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def _mkdocs() -> dict:
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def _error_classes() -> list[str]:
    tree = ast.parse((PACKAGE / "errors.py").read_text())
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def _headings(text: str) -> list[str]:
    return [line.lstrip("#").strip().strip("`") for line in text.splitlines() if re.match(r"^#{2,3} ", line)]


def test_errors_module_defines_the_expected_hierarchy():
    # Guards the parser below: an empty list would make the next test pass vacuously.
    assert {"PulumiDecoratorError", "ConfigurationError", "IdentityError"} <= set(_error_classes())


@pytest.mark.parametrize("name", _error_classes())
def test_every_error_class_has_a_troubleshooting_entry(name):
    text = (DOCS / "troubleshooting.md").read_text()
    assert name in _headings(text), f"docs/troubleshooting.md has no '## `{name}`' entry"
    entry = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
    for part in ("**Means:**", "**Fix:**"):
        assert part in entry, f"the troubleshooting entry for {name} lacks {part}"


def test_every_pulumi_option_is_in_the_configuration_reference():
    options = get_provider_info()["config"]["pulumi"]["options"]
    assert options
    text = (DOCS / "configuration.md").read_text()
    for name in options:
        row = f"| `{name}` | `AIRFLOW__PULUMI__{name.upper()}` |"
        assert row in text, f"docs/configuration.md has no table row for [pulumi] {name} ({row!r})"


def test_every_nav_page_exists_and_every_page_is_in_the_nav():
    config = _mkdocs()
    assert config["docs_dir"] == "docs"
    pages = _nav_pages(config["nav"])
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml nav names pages that do not exist: {missing}"
    assert len(pages) == len(set(pages)), "a page appears twice in the nav"
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    omitted = [page for page in on_disk if page not in pages]
    assert not omitted, f"pages under docs/ that the nav does not list: {omitted}"


def test_the_build_is_strict_and_the_api_reference_uses_sphinx_docstrings():
    config = _mkdocs()
    assert config.get("strict") is True
    plugins = {next(iter(p)) if isinstance(p, dict) else p: p for p in config["plugins"]}
    python = plugins["mkdocstrings"]["mkdocstrings"]["handlers"]["python"]
    assert python["options"]["docstring_style"] == "sphinx"
    script = (ROOT / "scripts" / "docs.sh").read_text()
    assert "mkdocs\" build --strict" in script and "serve" in script
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".venv-docs/" in ignored and "site/" in ignored


def _resolves(identifier: str) -> bool:
    """Whether ``a.b.c`` names a module, or a top-level name in one, under the package (statically)."""
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        module = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
        if module is None:
            continue
        rest = parts[cut:]
        if not rest:
            return True
        if len(rest) > 1:
            return False
        tree = ast.parse(module.read_text())
        names = set()
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.ImportFrom):
                names.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
        return rest[0] in names
    return False


def test_every_api_reference_identifier_exists():
    identifiers = [
        match
        for page in (DOCS / "reference").glob("*.md")
        for match in re.findall(r"^::: ([\w.]+)$", page.read_text(), flags=re.M)
    ]
    assert identifiers
    unknown = [i for i in identifiers if not _resolves(i)]
    assert not unknown, f"API reference pages name what the source does not define: {unknown}"


def test_changelog_page_includes_the_changelog():
    assert re.search(r'^-{2,3}8<-{2,3} "CHANGELOG.md"$', (DOCS / "changelog.md").read_text(), re.M)


def test_concepts_has_the_flow_diagram():
    text = (DOCS / "concepts.md").read_text()
    assert "```mermaid" in text
    for step in ("Template render", "Environment", "Identity", "Engine environment", "Automation API up",
                 "Outputs", "XCom"):
        assert step in text


def test_readme_links_the_site_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    line = next((ln for ln in text.splitlines() if "bash scripts/docs.sh" in ln), "")
    assert line, "README has no line with the command that builds the docs site"
    assert "docs/index.md" in text
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (ROOT / target).exists(), f"README links {target}, which does not exist"
