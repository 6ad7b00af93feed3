"""Per-invocation context handed to every command implementation."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from .args import ParsedArgs
from .sink import Sink, StandinError
from .state import Backend, StackRef, find_project, parse_stack_ref


@dataclass
class Invocation:
    """Everything one ``pulumi ...`` call sees.

    :param args: Parsed argv.
    :param env: Environment (never ``os.environ`` directly, so threads don't clash).
    :param cwd: Working directory (never the process cwd).
    :param sink: Where stdout/stderr lines go.
    :param form: ``"in-process"`` or ``"subprocess"``.
    :param cancel: Set to ask a running operation to stop after the current step.
    """

    args: ParsedArgs
    env: Mapping[str, str]
    cwd: str
    sink: Sink
    form: str
    cancel: threading.Event = field(default_factory=threading.Event)
    _backend: Backend | None = None
    _project: tuple[str, str] | None = None
    _project_searched: bool = False

    @property
    def backend(self) -> Backend:
        """The configured file backend (created on first use)."""
        if self._backend is None:
            self._backend = Backend.from_env(self.env)
            self._backend.ensure()
        return self._backend

    @property
    def project(self) -> tuple[str, str] | None:
        """(project name, project dir) from Pulumi.yaml, or None."""
        if not self._project_searched:
            self._project = find_project(self.cwd)
            self._project_searched = True
        return self._project

    @property
    def project_dir(self) -> str:
        """Directory of Pulumi.yaml (or cwd when there is none)."""
        return self.project[1] if self.project else self.cwd

    def resolve(self, ref: str) -> StackRef:
        """Parse a stack argument against the current project.

        :param ref: ``stack``, ``org/stack`` or ``org/project/stack``.
        """
        return parse_stack_ref(ref, self.project[0] if self.project else None)

    def stack_ref(self, positional_ok: bool = False) -> StackRef:
        """The stack this command targets: ``--stack``, else the selected stack.

        :param positional_ok: Also accept the first positional argument.
        """
        name = self.args.value("stack", "s")
        if name is None and positional_ok and self.args.positionals:
            name = self.args.positionals[0]
        if name is None:
            name = self.backend.selected(self.project_dir, self.env)
        if name is None:
            raise StandinError(
                "no stack selected; please use `pulumi stack select` or pass --stack"
            )
        return self.resolve(name)
