"""The private Pulumi names the engine still needs, each imported here only, behind a guard.

Pulumi may move a private name in any release; a guard keeps the engine working (with the documented
fallback) instead of failing at import.
"""

from __future__ import annotations

from typing import Any

#: The SDK's minimum CLI version when it is not where we look (it has been 3.1.0 since the 3.x SDKs).
_FALLBACK_MINIMUM = "3.1.0"


def sdk_minimum_cli() -> Any:
    """The oldest CLI the installed SDK works with, as a ``semver.VersionInfo``.

    A stock ``PulumiCommand`` checks it itself; our command adapter runs ``pulumi version`` once in
    :func:`~airflow_pulumi_decorators.cli.prepare_cli` instead, so it needs the number. Not public API.
    """
    try:
        from pulumi.automation._minimum_version import _MINIMUM_VERSION
    except ImportError:
        from semver import VersionInfo

        return VersionInfo.parse(_FALLBACK_MINIMUM)
    return _MINIMUM_VERSION


def is_input_or_output_type(value: Any) -> bool:
    """Whether ``value`` is an instance of a ``@pulumi.input_type`` or ``@pulumi.output_type`` class, which
    Pulumi serialises itself. The test is not public API; the decorators mark the class with these attributes."""
    try:
        from pulumi._types import is_input_type, is_output_type
    except ImportError:
        cls = type(value)
        return hasattr(cls, "_pulumi_input_type") or hasattr(cls, "_pulumi_output_type")
    return is_output_type(type(value)) or is_input_type(type(value))


def stack_select_mode() -> Any:
    """The ``mode`` that makes ``Stack(name, workspace, mode)`` select the stack (``StackInitMode.SELECT``).

    A subclass of ``Stack`` needs it for ``super().__init__``: ``Stack.select`` always builds a plain ``Stack``.
    The enum is not exported; it is read from the constructor's annotation, else from its module. Not public API.
    """
    import typing

    from pulumi.automation import Stack

    try:
        mode = typing.get_type_hints(Stack.__init__)["mode"]
    except (KeyError, NameError, TypeError):
        from pulumi.automation._stack import StackInitMode as mode  # noqa: N813 - the enum, as Pulumi names it
    return mode.SELECT
