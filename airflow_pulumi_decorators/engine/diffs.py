"""Property diffs of a step, from what the engine's event says about it: which properties a change adds,
removes or updates, their old and new values as short text, and which force a replacement.

The engine's events carry the old and new state with every secret already blinded (the CLI writes
``{<secret signature>: ..., "ciphertext": "[secret]"}``), so no plaintext secret reaches this module; a
secret is shown as ``[secret]`` all the same wherever one sits. A provider that reports a detailed diff
(most do) names the changed property paths and their kinds; for one that does not (Python dynamic providers)
the old and new inputs are compared, as ``pulumi preview --diff`` does.

Plain Python: no Pulumi import (the event metadata is read by attribute).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

#: The key that marks a secret value in Pulumi's JSON property values.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
#: How a secret value is shown.
SECRET_TEXT = "[secret]"
#: Pulumi's marker for a value not known until the update runs.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: How an unknown value is shown.
UNKNOWN_TEXT = "[unknown]"
#: Values longer than this (as text) are cut, with a marker saying how much was left out.
MAX_VALUE_CHARS = 200
#: At most this many property changes are kept per step; the rest are counted in ``diff_omitted``.
MAX_ENTRIES = 50

#: Pulumi's detailed-diff kinds, and what each means here.
_KINDS = {"add": "add", "delete": "delete", "update": "update",
          "add-replace": "add", "delete-replace": "delete", "update-replace": "update"}

_PATH_PART = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.\[\]]+)')


def is_secret(value: Any) -> bool:
    """Whether ``value`` is a (blinded) secret as the engine's events write one."""
    return (isinstance(value, Mapping) and SECRET_SIG in value) or value == SECRET_TEXT


def blinded(value: Any) -> Any:
    """``value`` with each secret inside it replaced by ``"[secret]"`` and unknowns by ``"[unknown]"``."""
    if is_secret(value):
        return SECRET_TEXT
    if value == UNKNOWN:
        return UNKNOWN_TEXT
    if isinstance(value, Mapping):
        return {str(k): blinded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [blinded(v) for v in value]
    return value


def show(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A property value as one line of text: JSON (strings quoted), ``[secret]``, ``[unknown]``; cut at
    ``limit`` characters with a marker naming what was left out."""
    value = blinded(value)
    text = value if value in (SECRET_TEXT, UNKNOWN_TEXT) else json.dumps(value, sort_keys=True, default=str)
    if len(text) > limit:
        return f"{text[:limit]}…(+{len(text) - limit} chars)"
    return text


def _visible(props: Any) -> dict[str, Any]:
    """A state's properties without the engine's internal ones (``__provider`` of a dynamic resource,
    ``__defaults`` of a bridged one)."""
    if not isinstance(props, Mapping):
        return {}
    return {str(k): v for k, v in props.items() if not str(k).startswith("__")}


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][\w-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


_MISSING = object()


def _leaves(path: str, old: Any, new: Any) -> Iterator[tuple[str, str, Any, Any]]:
    """The leaf paths where ``old`` and ``new`` differ: ``(path, kind, old, new)``; a missing side is ``_MISSING``."""
    if old is _MISSING and new is _MISSING:
        return
    if is_secret(old) or is_secret(new):
        if old is _MISSING or new is _MISSING or not (is_secret(old) and is_secret(new)):
            yield path, "add" if old is _MISSING else "delete" if new is _MISSING else "update", old, new
        return  # two blinded secrets look the same: whether the value changed is not known here
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            yield from _leaves(_join(path, str(key)), old.get(key, _MISSING), new.get(key, _MISSING))
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from _leaves(_join(path, i), old[i] if i < len(old) else _MISSING,
                               new[i] if i < len(new) else _MISSING)
        return
    if old == new:
        return
    kind = "add" if old is _MISSING else "delete" if new is _MISSING else "update"
    if kind != "update" and isinstance(old if new is _MISSING else new, (Mapping, list)) and path:
        # A whole object or list added or removed: one line per leaf, as the CLI shows it.
        side = old if new is _MISSING else new
        items = sorted(side.items(), key=lambda kv: str(kv[0])) if isinstance(side, Mapping) else list(enumerate(side))
        if items:
            for key, value in items:
                sub = _join(path, key if isinstance(key, int) else str(key))
                yield from _leaves(sub, _MISSING if kind == "add" else value, value if kind == "add" else _MISSING)
            return
    yield path, kind, old, new


def _parse_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for index, quoted, plain in _PATH_PART.findall(path):
        if index:
            parts.append(int(index))
        elif quoted:
            parts.append(json.loads(f'"{quoted}"'))
        elif plain:
            parts.append(plain)
    return parts


def _lookup(props: Mapping[str, Any], path: str) -> Any:
    value: Any = props
    for part in _parse_path(path):
        if is_secret(value):
            return value  # a secret hides what is inside it
        if isinstance(part, int) and isinstance(value, list) and part < len(value):
            value = value[part]
        elif isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        else:
            return _MISSING
    return value


def _entry(path: str, kind: str, old: Any, new: Any, replace: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "kind": kind}
    if old is not _MISSING and kind != "add":
        entry["old"] = show(old)
    if new is not _MISSING and kind != "delete":
        entry["new"] = show(new)
    if replace:
        entry["replace"] = True
    return entry


def _state_props(state: Any, outputs: bool) -> dict[str, Any]:
    if state is None:
        return {}
    return _visible(getattr(state, "outputs" if outputs else "inputs", None))


def step_diff(meta: Any, *, refreshed: bool = False) -> dict[str, Any]:
    """The property diff of one step: ``{"diff": [...], "replace_keys": [...]}`` (and ``diff_omitted`` when
    more than :data:`MAX_ENTRIES` properties changed).

    Each entry is ``{"path", "kind" (add/delete/update), "old", "new", "replace"}``, values as text
    (:func:`show`); ``old`` is absent for an add, ``new`` for a delete, ``replace`` unless the property forces
    a replacement.

    :param meta: the step's ``StepEventMetadata`` (``old``, ``new``, ``keys``, ``detailed_diff``).
    :param refreshed: the step is what a refresh found: compare the outputs (the cloud), not the inputs.
    """
    old_props = _state_props(meta.old, refreshed)
    new_props = _state_props(meta.new, refreshed)
    forced = {str(k) for k in (getattr(meta, "keys", None) or [])}
    detailed = getattr(meta, "detailed_diff", None) or {}
    entries: list[dict[str, Any]] = []
    if detailed and not refreshed:
        for path in sorted(detailed):
            if str(path).startswith("__"):
                continue
            item = detailed[path]
            kind_text = str(getattr(getattr(item, "diff_kind", None), "value", getattr(item, "diff_kind", "update")))
            kind = _KINDS.get(kind_text, "update")
            use_inputs = bool(getattr(item, "input_diff", True))
            olds = old_props if use_inputs else _state_props(meta.old, True)
            news = new_props if use_inputs else _state_props(meta.new, True)
            parts = _parse_path(path)
            top = str(parts[0]) if parts else str(path)
            if kind_text.endswith("-replace"):
                forced.add(top)
            entries.append(_entry(path, kind, _lookup(olds, path), _lookup(news, path), top in forced))
    else:
        pairs = [(old_props, new_props)]
        if not refreshed and meta.old is not None and meta.new is not None:
            # Inputs unchanged yet an update: the cloud drifted from them (a refresh read it). What the update
            # changes is then the refreshed outputs back to the inputs.
            old_outputs = _state_props(meta.old, True)
            pairs.append((
                {k: old_outputs[k] for k in new_props if k in old_outputs},
                {k: v for k, v in new_props.items() if k in old_outputs},
            ))
        for olds, news in pairs:
            for path, kind, old, new in _leaves("", olds, news):
                top = str(_parse_path(path)[0]) if _parse_path(path) else path
                entries.append(_entry(path, kind, old, new, top in forced))
            if entries:
                break
    result: dict[str, Any] = {"diff": entries[:MAX_ENTRIES], "replace_keys": sorted(forced)}
    if len(entries) > MAX_ENTRIES:
        result["diff_omitted"] = len(entries) - MAX_ENTRIES
    return result
