"""Stack outputs to XCom: plain JSON values; secret outputs withheld (the key with a marker saying so, see
:func:`~airflow_pulumi_decorators.outputs.withheld_output`), or pushed as
references to the output that the reading task resolves (``secret_outputs="reference"``), or — deprecated —
pushed in plain text (``push_secret_outputs=True``: every string in them is registered with this task's
secret masker first); and a warning for each declared output left without a value."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.outputs import StackOutput, check_output_names, secret_strings, withheld_output


def to_xcom(
    outputs: Mapping[str, StackOutput],
    *,
    push_secrets: bool,
    mask: Callable[[str], None],
    log: Callable[[str], None],
    multiple_outputs: bool = False,
    declared: Iterable[str] = (),
    reference: Callable[[str], dict[str, Any]] | None = None,
    project: str = "",
    stack: str = "",
) -> dict[str, Any]:
    """Turn stack outputs into the task's XCom value.

    Secret outputs keep their key; the value is a withheld marker
    (:func:`~airflow_pulumi_decorators.outputs.withheld_output`: the output's name and the fix, never the value),
    or the output's reference when
    ``reference`` is given, or — ``push_secrets`` — the value itself, every string in it registered with
    the secret masker first.

    :param outputs: the stack outputs.
    :param push_secrets: push secret values in plain text (deprecated; masked in this task's log only).
    :param mask: registers a value with Airflow's secret masker.
    :param log: writes one line to the task log.
    :param multiple_outputs: the task pushes one XCom per output (reserved names are refused).
    :param declared: the keys of the dict the program returned: one the stack has no value for (Pulumi drops an
        output whose value is ``None``) is kept with ``None``, so a downstream task reading it gets ``None``
        rather than a missing XCom.
    :param reference: the reference (a JSON dict, never the value) for a secret output's key; ``None``
        withholds secret outputs.
    :param project: the Pulumi project (named in a withheld output's marker).
    :param stack: the stack (named in a withheld output's marker).
    :raises ReservedOutputNameError: an output (exported by the program itself) has a reserved name.
    """
    result: dict[str, Any] = {}
    withheld = []
    pushed = []
    check_output_names(outputs, multiple_outputs=multiple_outputs)
    for key, output in outputs.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"stack output names must be strings, got {key!r}")
        if output.secret:
            if reference is not None:
                pushed.append(key)
                result[key] = reference(key)
            elif push_secrets:
                for text in secret_strings(output.value):
                    mask(text)
                result[key] = output.value
                pushed.append(key)
            else:
                withheld.append(key)
                result[key] = withheld_output(project, stack, key)
        else:
            result[key] = output.value
    for key in declared:
        result.setdefault(key, None)
    if withheld:
        log(
            f"secret outputs withheld from XCom: {', '.join(sorted(withheld))} "
            "(pass secret_outputs='reference' to hand them to downstream tasks as references, resolved and masked "
            "in the task that reads them; see docs/outputs.md)"
        )
    if pushed and reference is not None:
        log(
            f"secret outputs pushed to XCom as references, never their values: {', '.join(sorted(pushed))} (a "
            "downstream task resolves them from the stack's state and masks them; see docs/outputs.md)"
        )
    elif pushed:
        log(
            f"secret outputs pushed to XCom IN PLAIN TEXT (push_secret_outputs=True, deprecated): "
            f"{', '.join(sorted(pushed))}; they are stored unencrypted in Airflow's metadata database, shown in the "
            "UI's XCom view, and masked only in this task's log, not in the tasks that read them. Use "
            "secret_outputs='reference' instead"
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
