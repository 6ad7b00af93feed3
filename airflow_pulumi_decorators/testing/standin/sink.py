"""Output sinks and the error type commands raise to end with ``error: ...``."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .constants import EXIT_ERROR

LineCallback = Callable[[str], object]


class StandinError(Exception):
    """A command failure reported the way the Pulumi CLI reports it.

    :param message: Text printed to stderr after ``error: ``.
    :param code: Process exit code (Pulumi uses 255).
    """

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class CancelledError(Exception):
    """Raised inside step processing once a cancellation was requested."""


class Sink:
    """Line-oriented stdout/stderr sink.

    Lines are handed to the callbacks as soon as they are written (streaming),
    and also collected so the in-process form can build a ``CommandResult``.

    :param on_out: Called with each stdout line (no trailing newline).
    :param on_err: Called with each stderr line (no trailing newline).
    """

    def __init__(
        self,
        on_out: LineCallback | None = None,
        on_err: LineCallback | None = None,
    ) -> None:
        self._on_out = on_out
        self._on_err = on_err
        self.out_lines: list[str] = []
        self.err_lines: list[str] = []
        # gRPC worker threads write concurrently; keep lines whole and ordered.
        self._lock = threading.Lock()
        self.secrets_to_mask: set[str] = set()
        #: While set, :meth:`out` writes nothing (``preview --json`` prints one JSON document instead).
        self.muted = False

    def _mask(self, text: str) -> str:
        # Last line of defence: never print a known secret plaintext.
        for secret in self.secrets_to_mask:
            if secret and len(secret) >= 3 and secret in text:
                text = text.replace(secret, "[secret]")
        return text

    def out(self, text: str = "") -> None:
        """Write one or more lines to stdout.

        :param text: Text; embedded newlines produce several lines.
        """
        if not self.muted:
            self._write(text, self.out_lines, self._on_out)

    def out_always(self, text: str) -> None:
        """Write to stdout even while muted.

        :param text: Text; embedded newlines produce several lines.
        """
        self._write(text, self.out_lines, self._on_out)

    def err(self, text: str) -> None:
        """Write one or more lines to stderr.

        :param text: Text; embedded newlines produce several lines.
        """
        self._write(text, self.err_lines, self._on_err)

    def _write(self, text: str, lines: list[str], callback: LineCallback | None) -> None:
        with self._lock:
            for line in self._mask(text).split("\n"):
                line = line.rstrip()
                lines.append(line)
                if callback is not None:
                    callback(line)

    @property
    def stdout(self) -> str:
        """All stdout lines joined like ``PulumiCommand.run`` joins them."""
        return "\n".join(self.out_lines)

    @property
    def stderr(self) -> str:
        """All stderr lines joined like ``PulumiCommand.run`` joins them."""
        return "\n".join(self.err_lines)
