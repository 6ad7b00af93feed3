"""Stack outputs as the program returns them and the engine reports them: allowed names, plain JSON values,
:class:`StackOutput`, and the reference a secret output travels downstream as (:class:`SecretOutputRef`).
Turning them into XCom is :mod:`airflow_pulumi_decorators.publish.xcom`; resolving a reference is
:mod:`airflow_pulumi_decorators.secret_outputs`."""

from __future__ import annotations

import datetime
import decimal
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_pulumi_decorators.errors import (
    OutputValueError,
    ReservedOutputNameError,
    SecretReferenceError,
)
from airflow_pulumi_decorators.operations import SUMMARY_KEY

#: XCom keys a task already uses: Airflow's whole return value and its skip/branch record, our summary.
RESERVED_KEYS = frozenset({"return_value", SUMMARY_KEY, "skipmixin_key"})
#: Airflow stores each operator extra link under ``_link_<class name>``.
RESERVED_PREFIXES = ("_link_",)

#: The largest integer every engine returns exactly: outputs travel as float64 numbers.
MAX_EXACT_INT = 2**53


def check_output_names(keys: Iterable[Any], *, multiple_outputs: bool) -> None:
    """Refuse output names that cannot be XCom keys of their own: one the task already pushes, or not ASCII.

    With ``multiple_outputs`` every output is pushed as an XCom of its own name; without it the outputs
    travel inside ``return_value`` and any name is fine.

    :param keys: the output names.
    :param multiple_outputs: whether the task pushes one XCom per output.
    :raises ReservedOutputNameError: for the first reserved name.
    """
    if not multiple_outputs:
        return
    for key in keys:
        if not isinstance(key, str):
            continue  # refused with its type by plain_output / to_xcom
        if not key.isascii():
            suggestion = key.encode("ascii", "ignore").decode() or "output"
            raise ReservedOutputNameError(
                f"stack output {key!r} has a name that is not ASCII; with multiple_outputs each output is pushed as "
                "an XCom of its own name, and Airflow 3 sends XCom keys in request URLs, which take ASCII only (it "
                f"would fail after the update). Rename the output (e.g. return {{'{suggestion}': ...}}), or pass "
                "multiple_outputs=False to push all outputs inside return_value.",
                key=key,
            )
        if key in RESERVED_KEYS or key.startswith(RESERVED_PREFIXES):
            raise ReservedOutputNameError(
                f"stack output {key!r} has the name of an XCom the task already pushes "
                f"({_reserved_use(key)}); with multiple_outputs each output is pushed under its own name and "
                f"would replace it. Rename the output (e.g. return {{'{key.strip('_')}_value': ...}}), or pass "
                "multiple_outputs=False to push all outputs inside return_value.",
                key=key,
            )


def _reserved_use(key: str) -> str:
    if key == "return_value":
        return "Airflow's return value: the whole dict of outputs"
    if key == SUMMARY_KEY:
        return "what the operation did"
    if key == "skipmixin_key":
        return "Airflow's record of skipped and followed branches"
    return "Airflow's operator extra link"


def plain_output(key: str, value: Any, *, passthrough: Callable[[Any], bool] = lambda v: False) -> Any:
    """One output value as JSON, converted where that loses nothing, refused otherwise.

    Converted: a tuple becomes a list (as ``json`` does); a set or frozenset becomes a sorted list (its
    members, in an order that is the same on every run). Refused, naming the output, the place inside it
    and the type, with the fix: bytes, dates and times, ``Decimal``, NaN and infinities, integers beyond
    ±2**53 (every engine returns numbers as float64), dict keys that are not strings, sets whose members
    cannot be sorted, and any other object.

    :param key: the output's name (for the error).
    :param value: the resolved value.
    :param passthrough: values to leave as they are (Pulumi resources, assets, its typed outputs: the
        engine serialises those itself).
    :raises OutputValueError: for the first value that has no lossless JSON form.
    """
    return _plain(key, "", value, passthrough)


def _plain(key: str, path: str, value: Any, passthrough: Callable[[Any], bool]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            _refuse(key, path, value, "an integer beyond ±2**53, which the engine returns as an inexact float",
                    "return str(value), or a float if the precision does not matter")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            _refuse(key, path, value, f"{value!r}, which JSON cannot hold", "return None or a string instead")
        return value
    if isinstance(value, Mapping) and not passthrough(value):
        for k in value:
            if not isinstance(k, str):
                _refuse(key, f"{path}[{k!r}]", k, f"a dict key of type {type(k).__name__}; JSON keys are strings",
                        "use str(key) for the keys")
        return {k: _plain(key, f"{path}[{k!r}]", v, passthrough) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(key, f"{path}[{i}]", v, passthrough) for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [_plain(key, f"{path}{{…}}", v, passthrough) for v in value]
        try:
            return sorted(items)
        except TypeError:
            _refuse(key, path, value, f"a {type(value).__name__} whose members cannot be sorted into a stable list",
                    "return a list in the order you want")
    if passthrough(value):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        fix = "decode it (value.decode()) or base64-encode it"
    elif isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        fix = "return value.isoformat() (and parse it where it is read)"
    elif isinstance(value, decimal.Decimal):
        fix = "return str(value) to keep every digit, or float(value)"
    else:
        fix = "return a dict, list or plain value instead (e.g. dataclasses.asdict(value))"
    _refuse(key, path, value, f"a {type(value).__module__}.{type(value).__qualname__}".replace("builtins.", ""), fix)


def _refuse(key: str, path: str, value: Any, what: str, fix: str) -> None:
    where = f"stack output {key!r}" + (f" at {path}" if path else "")
    raise OutputValueError(
        f"{where} is {what}, not a JSON value; {fix}.",
        key=key,
        path=path,
        type_name=type(value).__name__,
    )


@dataclass(frozen=True)
class StackOutput:
    """One stack output as the engine reported it.

    :param value: the plain JSON value.
    :param secret: whether Pulumi marks it secret.
    """

    value: Any
    secret: bool = False
    masked: Any = None
    """The value as the engine shows it with secrets hidden (``"[secret]"`` where a secret is), when read."""


# -- secret outputs downstream ------------------------------------------------------------------------------

#: The key that marks an XCom value as a reference to a secret stack output (its value: the format version).
REF_MARKER = "__pulumi_secret_output__"
REF_VERSION = 1
_REF_FIELDS = ("project", "stack", "key", "backend", "environment", "pulumi_conn_id", "identity_conn_id",
               "identity_kind", "dag_id", "task_id")


def public_backend_url(url: str | None) -> str | None:
    """A backend URL without what could be a credential: user info and query are dropped (a consumer gets them
    back from its own connection or settings, matched on this form)."""
    if not url:
        return None
    if url.startswith("file://"):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class SecretOutputRef:
    """Where a secret stack output is, never its value: what a task pushes for it with
    ``secret_outputs="reference"`` (as :meth:`to_xcom`), resolved in the task that reads it.

    :param project: the Pulumi project.
    :param stack: the stack as the producer selected it (fully qualified where the backend needs it).
    :param key: the output's name.
    :param backend: the backend URL without user info or query (:func:`public_backend_url`); ``None``: the CLI's
        default.
    :param environment: the producer's environment name (for messages).
    :param pulumi_conn_id: the ``pulumi`` connection the producer used (access token, passphrase), if any.
    :param identity_conn_id: the ``google_cloud_platform`` connection of the producer's identity, when its
        environment's identity is one (``identity_from_connection``, ``X.from_connection``); other identities are
        not carried (they may hold a credential configuration): the reader then uses its worker's own credentials.
    :param identity_kind: the identity class that connection must resolve to (``X.from_connection``), if any.
    :param dag_id: the producing task's DAG (for messages).
    :param task_id: the producing task (for messages).
    """

    project: str
    stack: str
    key: str
    backend: str | None = None
    environment: str = ""
    pulumi_conn_id: str | None = None
    identity_conn_id: str | None = None
    identity_kind: str | None = None
    dag_id: str = ""
    task_id: str = ""

    def to_xcom(self) -> dict[str, Any]:
        """The reference as a JSON dict with the :data:`REF_MARKER` key."""
        return {REF_MARKER: REF_VERSION, **{name: getattr(self, name) for name in _REF_FIELDS}}

    @classmethod
    def from_xcom(cls, value: Mapping[str, Any]) -> SecretOutputRef:
        """A reference read back from XCom.

        :raises SecretReferenceError: a value with the marker that is not a reference this version reads.
        """
        version = value.get(REF_MARKER)
        if version != REF_VERSION:
            raise SecretReferenceError(
                f"an XCom value carries {REF_MARKER!r}={version!r}, but this version of airflow-pulumi-decorators "
                f"reads version {REF_VERSION}: install the same version on the worker that pushed it and on this one"
            )
        fields: dict[str, Any] = {}
        for name in _REF_FIELDS:
            item = value.get(name)
            required = name in ("project", "stack", "key")
            if (required and not (isinstance(item, str) and item)) or not (item is None or isinstance(item, str)):
                raise SecretReferenceError(
                    f"an XCom value marked {REF_MARKER!r} has {name}={item!r}, not a string: it was not written by "
                    "a @pulumi_stack task (or was edited); re-run the task that produced it"
                )
            if item is not None:
                fields[name] = item
        return cls(**fields)

    @property
    def producer(self) -> str:
        """The producing task, as messages name it."""
        return f"task {self.task_id!r} of DAG {self.dag_id!r}" if self.task_id else "the producing task"

    def describe(self) -> str:
        """``output 'token' of stack 'dev' (project 'secrets', backend ...)``: for messages, never a value."""
        return (f"secret output {self.key!r} of stack {self.stack!r} (project {self.project!r}, backend "
                f"{self.backend or '(the CLI default)'})")


#: How the engine shows a secret value when secrets are not revealed.
SECRET_SHOWN = "[secret]"


def secret_strings(value: Any) -> Iterator[str]:
    """Every string inside a secret value (and each container's JSON text), so each can be masked in logs: a
    nested secret leaks otherwise."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secret_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secret_strings(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)
    if isinstance(value, (Mapping, list, tuple)):
        yield json.dumps(value)


def secret_parts(masked: Any, plain: Any) -> Iterator[str]:
    """The strings of ``plain`` that are secret: those where ``masked`` (the same value as the engine shows it
    with secrets hidden) says ``"[secret]"``; a plain ``"db.internal"`` next to a secret password is not one.

    :param masked: the value with secrets shown as ``"[secret]"``.
    :param plain: the value with secrets revealed.
    """
    if masked == SECRET_SHOWN:
        yield from secret_strings(plain)
    elif isinstance(masked, Mapping) and isinstance(plain, Mapping):
        for key, item in masked.items():
            if key in plain:
                yield from secret_parts(item, plain[key])
    elif isinstance(masked, list) and isinstance(plain, list):
        for m, p in zip(masked, plain, strict=False):
            yield from secret_parts(m, p)


def has_secret(masked: Any) -> bool:
    """Whether a secret is anywhere inside a value as the engine shows it masked."""
    if masked == SECRET_SHOWN:
        return True
    if isinstance(masked, Mapping):
        return any(has_secret(v) for v in masked.values())
    if isinstance(masked, list):
        return any(has_secret(v) for v in masked)
    return False


#: The key that marks an XCom value as a secret stack output withheld from XCom (its value: the format version).
WITHHELD_MARKER = "__pulumi_secret_output_withheld__"
WITHHELD_VERSION = 1
#: What a withheld output's XCom says to whoever reads it (the UI's XCom view, the REST API).
WITHHELD_FIX = (
    "secret stack output withheld: its value is never stored in XCom. To hand it to downstream tasks, set "
    "secret_outputs=\"reference\" on the producing task (docs/outputs.md)"
)


def withheld_output(project: str, stack: str, key: str) -> dict[str, Any]:
    """What a withheld secret output is replaced by in the task's XCom: a marker naming the output and the fix,
    never its value (nor anything derived from it).

    :param project: the Pulumi project.
    :param stack: the stack.
    :param key: the output's name.
    """
    return {WITHHELD_MARKER: WITHHELD_VERSION, "output": key, "project": project, "stack": stack,
            "note": WITHHELD_FIX}


def is_withheld_output(value: object) -> bool:
    """Whether an XCom value is the marker of a withheld secret output (a dict with :data:`WITHHELD_MARKER`)."""
    return isinstance(value, Mapping) and WITHHELD_MARKER in value


def describe_withheld(value: Mapping[str, Any]) -> str:
    """The withheld output a marker names, in words (``'db_password' of stack warehouse/dev``).

    :param value: a marker (:func:`is_withheld_output`).
    """
    return f"{value.get('output')!r} of stack {value.get('project')}/{value.get('stack')}"


def is_secret_reference(value: object) -> bool:
    """Whether an XCom value is a reference to a secret stack output (a dict with :data:`REF_MARKER`)."""
    return isinstance(value, Mapping) and REF_MARKER in value
