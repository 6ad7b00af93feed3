"""Offline stand-in for the ``pulumi`` CLI, for tests.

It speaks the CLI contract the real ``pulumi.automation`` SDK uses (stack,
config, up/preview/refresh/destroy with inline programs over the real
LanguageServer gRPC path, events, history, locks, passphrase secrets) and
records state in a ``file://`` backend. It creates no cloud resources.
See ``docs/standin.md``.

Names are resolved lazily so that the ``pulumi-standin`` console script
(``.cli``) starts without importing pulumi or gRPC.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cli import main, run_cli
    from .command import StandinCommand, build_env, console_script_path, install_shim
    from .constants import BANNER, PROTOCOL_VERSION, STANDIN_VERSION
    from .journal import read_journal, redact_argv
    from .sink import Sink, StandinError

_EXPORTS = {
    "BANNER": ".constants",
    "PROTOCOL_VERSION": ".constants",
    "STANDIN_VERSION": ".constants",
    "Sink": ".sink",
    "StandinCommand": ".command",
    "StandinError": ".sink",
    "build_env": ".command",
    "console_script_path": ".command",
    "install_shim": ".command",
    "main": ".cli",
    "read_journal": ".journal",
    "redact_argv": ".journal",
    "run_cli": ".cli",
}

__all__ = [
    "BANNER",
    "PROTOCOL_VERSION",
    "STANDIN_VERSION",
    "Sink",
    "StandinCommand",
    "StandinError",
    "build_env",
    "console_script_path",
    "install_shim",
    "main",
    "read_journal",
    "redact_argv",
    "run_cli",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
