"""Finding the ``pulumi`` executable and the versions it must match (the SDK's and ``[pulumi] cli_version``)."""

from __future__ import annotations

import os
import shutil
from typing import Any

from airflow_pulumi_decorators.errors import PulumiCliNotFoundError

INSTALL_HINT = (
    "install the Pulumi CLI on the worker (`curl -fsSL https://get.pulumi.com | sh`, or bake it into the "
    "worker image), then put it on PATH or point Airflow at it with [pulumi] cli_path "
    "(AIRFLOW__PULUMI__CLI_PATH=/path/to/pulumi)"
)


def is_executable(path: str) -> bool:
    """Whether ``path`` is a file we may run."""
    return os.path.isfile(path) and os.access(path, os.X_OK)


def locate_cli(cli_path: str | None = None) -> str:
    """Find the ``pulumi`` executable: the configured path (file or folder), PATH, then ``~/.pulumi/bin``.

    :param cli_path: a configured path, or ``None``.
    :raises PulumiCliNotFoundError: when none is found, with how to install it.
    """
    if cli_path:
        candidate = os.path.expanduser(cli_path)
        if os.path.isdir(candidate):
            candidate = os.path.join(candidate, "pulumi")
        if is_executable(candidate):
            return os.path.abspath(candidate)
        raise PulumiCliNotFoundError(
            f"the configured Pulumi CLI {cli_path!r} ([pulumi] cli_path) is not an executable file; {INSTALL_HINT}"
        )
    found = shutil.which("pulumi")
    if found:
        return os.path.abspath(found)
    home_bin = os.path.expanduser(os.path.join("~", ".pulumi", "bin", "pulumi"))
    if is_executable(home_bin):
        return home_bin
    raise PulumiCliNotFoundError(f"no `pulumi` executable on PATH or in ~/.pulumi/bin; {INSTALL_HINT}")


def sdk_version() -> str | None:
    """The installed Pulumi SDK's version (from package metadata: no ``import pulumi``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi")
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        return None


def required_minimum(sdk_minimum: Any, configured: str | None) -> tuple[Any, str]:
    """The higher of the SDK's minimum and ``[pulumi] cli_version``, and where it comes from.

    :param sdk_minimum: the SDK's ``_MINIMUM_VERSION`` (a ``semver.VersionInfo``).
    :param configured: ``[pulumi] cli_version`` or ``None``.
    """
    from semver import VersionInfo

    if configured:
        wanted = VersionInfo.parse(configured)
        if wanted.compare(sdk_minimum) > 0:
            return wanted, "[pulumi] cli_version"
    return sdk_minimum, "this Pulumi SDK"
