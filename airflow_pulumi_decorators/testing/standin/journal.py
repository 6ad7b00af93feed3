"""Invocation journal: one JSON line per ``pulumi`` call, never with secret values."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from .constants import ENV_BACKEND_URL, ENV_JOURNAL
from .state import backend_root_from_url

REDACTED = "[redacted]"

# Flags whose value is ``key=value``: keep the key only.
_KEY_VALUE_FLAGS = {"--secret", "--plaintext", "--remote-env", "--remote-env-secret"}
# Flags whose whole value is sensitive.
_SECRET_VALUE_FLAGS = {
    "--remote-git-auth-access-token", "--remote-git-auth-ssh-private-key",
    "--remote-git-auth-password", "--remote-executor-image-password",
}


def _key_only(pair: str) -> str:
    return pair.split("=", 1)[0]


def redact_argv(argv: list[str]) -> list[str]:
    """Copy of argv with config values and credentials removed.

    ``--secret k=v``/``--plaintext k=v`` keep ``k``; ``config set K V`` loses
    ``V``; ``config set-all --json J`` loses ``J``.

    :param argv: Arguments (without the program name).
    """
    words = [a for a in argv if not a.startswith("-")]
    is_config_set = words[:2] == ["config", "set"]
    is_set_all = words[:2] == ["config", "set-all"]
    out: list[str] = []
    positionals = 0
    expect: str | None = None
    after_separator = False
    for token in argv:
        if expect is not None:
            if expect in _KEY_VALUE_FLAGS:
                out.append(_key_only(token))
            elif expect in _SECRET_VALUE_FLAGS or expect == "--json":
                out.append(REDACTED)
            else:
                out.append(token)
            expect = None
            continue
        if token == "--" and not after_separator:
            after_separator = True
            out.append(token)
            continue
        if token.startswith("-") and not after_separator:
            name, eq, value = token.partition("=")
            key_value = name in _KEY_VALUE_FLAGS and (is_set_all or name.startswith("--remote"))
            if eq and key_value:
                out.append(f"{name}={_key_only(value)}")
            elif eq and (name in _SECRET_VALUE_FLAGS or (is_set_all and name == "--json")):
                out.append(f"{name}={REDACTED}")
            else:
                out.append(token)
                if not eq and (
                    key_value or name in _SECRET_VALUE_FLAGS
                    or (is_set_all and name == "--json")
                ):
                    expect = name
                elif not eq and name in _PLAIN_VALUE_FLAGS:
                    expect = "plain"
            continue
        if is_config_set and (after_separator or token not in ("config", "set")):
            positionals += 1
            # The key stays; the value (second positional) goes.
            out.append(token if positionals == 1 else REDACTED)
            continue
        out.append(token)
    return out


# Value flags whose values are harmless but must not be mistaken for positionals.
_PLAIN_VALUE_FLAGS = {"--stack", "-s", "--message", "-m", "--client", "--exec-kind",
                      "--event-log", "--color", "--parallel", "-p", "--target",
                      "--page-size", "--page", "--file", "--secrets-provider"}


def journal_path(env: Mapping[str, str]) -> str | None:
    """Where this invocation's record goes, or None.

    :param env: The command's environment.
    """
    explicit = env.get(ENV_JOURNAL)
    if explicit:
        return explicit
    url = env.get(ENV_BACKEND_URL)
    if not url:
        return None
    try:
        root = backend_root_from_url(url, env)
    except Exception:  # noqa: BLE001 - an unusable backend has no journal
        return None
    return os.path.join(root, ".pulumi", "standin-journal.jsonl")


def append_record(path: str, record: Mapping[str, Any]) -> None:
    """Append one JSON line (a single ``O_APPEND`` write, so lines never interleave).

    :param path: Journal file.
    :param record: The record.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_journal(path: str) -> list[dict[str, Any]]:
    """Read all records of a journal file.

    :param path: Journal file (missing file, or a backend path under a regular file -> empty list).
    :returns: Records in the order they were written.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (FileNotFoundError, NotADirectoryError):
        return []
