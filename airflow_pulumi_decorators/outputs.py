"""Stack outputs to XCom: plain JSON values, secrets withheld unless the task opts in."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_pulumi_decorators.errors import ConfigurationError

#: What a withheld secret output is replaced by in the task's XCom.
WITHHELD: None = None


@dataclass(frozen=True)
class StackOutput:
    """One stack output as the engine reported it.

    :param value: the plain JSON value.
    :param secret: whether Pulumi marks it secret.
    """

    value: Any
    secret: bool = False


def _secret_strings(value: Any) -> Iterable[str]:
    """Every string inside a secret value, so each can be masked in logs (nested secrets leak otherwise)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secret_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_strings(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)
    if isinstance(value, (Mapping, list, tuple)):
        yield json.dumps(value)


def to_xcom(
    outputs: Mapping[str, StackOutput],
    *,
    push_secrets: bool,
    mask: Callable[[str], None],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Turn stack outputs into the task's XCom value.

    Secret outputs keep their key; the value is :data:`WITHHELD` unless ``push_secrets`` is on, in which
    case every string in it is registered with the secret masker first.

    :param outputs: the stack outputs.
    :param push_secrets: push secret values too (masked in logs).
    :param mask: registers a value with Airflow's secret masker.
    :param log: writes one line to the task log.
    """
    result: dict[str, Any] = {}
    withheld = []
    for key, output in outputs.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"stack output names must be strings, got {key!r}")
        if output.secret:
            if push_secrets:
                for text in _secret_strings(output.value):
                    mask(text)
                result[key] = output.value
            else:
                withheld.append(key)
                result[key] = WITHHELD
        else:
            result[key] = output.value
    if withheld:
        log(
            f"secret outputs withheld from XCom: {', '.join(sorted(withheld))} "
            "(pass push_secret_outputs=True to push them, masked in logs)"
        )
    return result
