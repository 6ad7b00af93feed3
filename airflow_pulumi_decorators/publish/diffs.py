"""The steps' property diffs in the task log, as ``pulumi preview --diff`` shows them (the diffs themselves
come with the engine's result: :func:`airflow_pulumi_decorators.engine.diffs.step_diff`)."""

from __future__ import annotations

from typing import Any

#: How ``pulumi preview --diff`` marks each op.
_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "+-", "read": ">", "import": "="}
_KIND_SYMBOLS = {"add": "+", "delete": "-", "update": "~"}


def diff_lines(steps: list[dict[str, Any]]) -> list[str]:
    """The steps and their property diffs as ``pulumi preview --diff`` shows them, one string per line.

    :param steps: the result's steps (``op``, ``type``, ``name``, ``diff``, ``replace_keys``, ``diff_omitted``).
    """
    lines: list[str] = []
    for step in steps:
        symbol = _SYMBOLS.get(step["op"], "*")
        why = ""
        if step.get("replace_keys"):
            why = f" (forced by {', '.join(step['replace_keys'])})"
        lines.append(f"  {symbol} {step['type']} {step['name']} {step['op']}{why}")
        for entry in step.get("diff") or ():
            mark = _KIND_SYMBOLS[entry["kind"]]
            forced = "  [forces replacement]" if entry.get("replace") else ""
            if entry["kind"] == "update":
                lines.append(f"      {mark} {entry['path']}: {entry['old']} => {entry['new']}{forced}")
            else:
                lines.append(f"      {mark} {entry['path']}: {entry.get('new', entry.get('old'))}{forced}")
        if step.get("diff_omitted"):
            lines.append(f"      … {step['diff_omitted']} more changes")
    return lines
