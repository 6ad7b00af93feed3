"""Stack outputs to XCom: plain JSON values, secret outputs withheld unless the task opts in (then every
string in them is registered with the secret masker first), and a warning for each declared output left
without a value."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.outputs import StackOutput, check_output_names

#: What a withheld secret output is replaced by in the task's XCom.
WITHHELD: None = None


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
    multiple_outputs: bool = False,
    declared: Iterable[str] = (),
) -> dict[str, Any]:
    """Turn stack outputs into the task's XCom value.

    Secret outputs keep their key; the value is :data:`WITHHELD` unless ``push_secrets`` is on, in which
    case every string in it is registered with the secret masker first.

    :param outputs: the stack outputs.
    :param push_secrets: push secret values too (masked in logs).
    :param mask: registers a value with Airflow's secret masker.
    :param log: writes one line to the task log.
    :param multiple_outputs: the task pushes one XCom per output (reserved names are refused).
    :param declared: the keys of the dict the program returned: one the stack has no value for (Pulumi drops an
        output whose value is ``None``) is kept with ``None``, so a downstream task reading it gets ``None``
        rather than a missing XCom.
    :raises ReservedOutputNameError: an output (exported by the program itself) has a reserved name.
    """
    result: dict[str, Any] = {}
    withheld = []
    check_output_names(outputs, multiple_outputs=multiple_outputs)
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
    for key in declared:
        result.setdefault(key, None)
    if withheld:
        log(
            f"secret outputs withheld from XCom: {', '.join(sorted(withheld))} "
            "(pass push_secret_outputs=True to push them, masked in logs)"
        )
    return result


def warn_missing_outputs(
    declared: Iterable[str], outputs: Mapping[str, StackOutput], *, warn: Callable[[str], None]
) -> list[str]:
    """Warn about each output the program returned that the stack has no value for after ``up``.

    A downstream task reading ``infra["bucket"]`` would get ``None`` and run on it; the warning names the
    key so the cause (a value the provider did not compute, an ``Output`` that resolved to ``None``, an
    output the engine dropped) is found in the task that made it.

    :param declared: the keys of the dict the program returned.
    :param outputs: the stack outputs after the update.
    :param warn: writes one warning line to the task log.
    :return: the keys warned about, in the order declared.
    """
    missing = []
    for key in declared:
        output = outputs.get(key)
        if output is None or output.value is None:
            state = "has no value" if output is None else "is None"
            warn(
                f"stack output {key!r} {state} after the update: downstream tasks reading it get None. Check "
                "that the resource computes it (an unknown value in a preview, or a property the provider "
                "leaves unset) or drop the key from the returned dict"
            )
            missing.append(key)
    return missing
