"""Griffe extension for the docs site: render reST roles in our docstrings as inline code.

Our docstrings use Sphinx roles (:class:`~airflow_pulumi_decorators.Environment`, :func:`...`); griffe's
``sphinx`` style parses the ``:param:`` fields but leaves roles as text. This turns each role into
Markdown inline code: ``~a.b.C`` shows ``C``, ``Title <a.b.C>`` shows ``Title``, anything else in full.
Loaded by mkdocstrings (mkdocs.yml); it never imports the package.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|type):`([^`]+)`")


def _shown(target: str) -> str:
    target = target.strip()
    titled = re.match(r"^(.*?)\s*<([^>]+)>$", target)
    if titled:
        return titled.group(1)
    if target.startswith("~"):
        return target[1:].rsplit(".", 1)[-1]
    return target


def render_roles(text: str) -> str:
    """``:class:`~a.b.C``` → ```C```; the rest of the text unchanged."""
    return _ROLE.sub(lambda m: f"`{_shown(m.group(1))}`", text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring's roles once, when griffe has loaded the object."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is not None and ":" in docstring.value:
            docstring.value = render_roles(docstring.value)
