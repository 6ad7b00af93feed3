"""Stack configuration in ``Pulumi.<stack>.yaml`` (secure values encrypted)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from .secrets import PassphraseCipher, cipher_for
from .sink import StandinError
from .state import Backend, StackRef


def _yaml() -> ModuleType:
    import yaml

    return yaml


class StackConfig:
    """The ``Pulumi.<stack>.yaml`` document of one stack.

    :param path: File path (may not exist yet).
    :param project: Project name, used to qualify bare keys.
    """

    def __init__(self, path: str, project: str) -> None:
        self.path = path
        self.project = project
        self.doc: dict[str, Any] = {}
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                self.doc = _yaml().safe_load(handle) or {}
        self.doc.setdefault("config", {})
        if self.doc["config"] is None:
            self.doc["config"] = {}

    @classmethod
    def for_stack(cls, project_dir: str, ref: StackRef) -> StackConfig:
        """:param project_dir: Directory of Pulumi.yaml. :param ref: Stack."""
        return cls(os.path.join(project_dir, f"Pulumi.{ref.name}.yaml"), ref.project)

    @property
    def values(self) -> dict[str, Any]:
        """Raw config mapping (secure values still encrypted)."""
        values: dict[str, Any] = self.doc["config"]
        return values

    @property
    def salt(self) -> str | None:
        """The ``encryptionsalt`` value, if present."""
        return self.doc.get("encryptionsalt")

    def save(self) -> None:
        """Write the file atomically."""
        directory = os.path.dirname(self.path) or "."
        tmp = os.path.join(directory, f".{os.path.basename(self.path)}.tmp{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as handle:
            _yaml().safe_dump(self.doc, handle, default_flow_style=False, sort_keys=True)
        os.replace(tmp, self.path)

    def full_key(self, key: str) -> str:
        """Qualify a bare key with the project name.

        :param key: ``k`` or ``ns:k``.
        """
        return key if ":" in key else f"{self.project}:{key}"

    def has_secure(self) -> bool:
        """True if any value is encrypted."""
        return _has_secure(self.values)

    def cipher(
        self, backend: Backend, ref: StackRef, env: Mapping[str, str]
    ) -> PassphraseCipher:
        """The stack's cipher; writes the salt into the file if it was missing.

        :param backend: Backend holding the checkpoint (salt fallback).
        :param ref: Stack.
        :param env: Environment holding the passphrase.
        """
        salt = self.salt or checkpoint_salt(backend, ref)
        cipher = cipher_for(salt, env)
        if self.salt != cipher.salt_state:
            self.doc["encryptionsalt"] = cipher.salt_state
        return cipher

    def set(
        self,
        key: str,
        value: str,
        secret: bool,
        path: bool,
        cipher: PassphraseCipher | None,
    ) -> None:
        """Set one value.

        :param key: Key (bare, namespaced, or a path with ``--path``).
        :param value: String value.
        :param secret: Encrypt it.
        :param path: Treat the key as a property path.
        :param cipher: Needed when ``secret``.
        """
        stored: Any = value
        if secret:
            assert cipher is not None
            stored = {"secure": cipher.encrypt(value)}
        if not path:
            self.values[self.full_key(key)] = stored
            return
        segments = parse_path(key)
        head = self.full_key(str(segments[0]))
        if len(segments) == 1:
            self.values[head] = stored
            return
        container = self.values.get(head)
        if not isinstance(container, (dict, list)) or _is_secure(container):
            container = [] if isinstance(segments[1], int) else {}
            self.values[head] = container
        _set_in(container, segments[1:], stored if secret else coerce_path_value(value))

    def remove(self, key: str, path: bool) -> None:
        """Remove a value (missing keys are ignored like Pulumi does).

        :param key: Key or path.
        :param path: Treat as a property path.
        """
        if not path:
            self.values.pop(self.full_key(key), None)
            return
        segments = parse_path(key)
        head = self.full_key(str(segments[0]))
        if len(segments) == 1:
            self.values.pop(head, None)
            return
        node = self.values.get(head)
        for seg in segments[1:-1]:
            try:
                node = node[seg]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                return
        try:
            del node[segments[-1]]  # type: ignore[union-attr]
        except (KeyError, IndexError, TypeError):
            pass

    def resolved(
        self, cipher: PassphraseCipher | None
    ) -> dict[str, tuple[Any, bool]]:
        """Decrypted values: key -> (plain value or object, is_secret).

        :param cipher: Needed when secure values exist.
        """
        return {key: resolve_raw(raw, cipher) for key, raw in self.values.items()}


def resolve_raw(raw: Any, cipher: PassphraseCipher | None) -> tuple[Any, bool]:
    """Decrypt one raw YAML config value.

    :param raw: Value as stored (``{secure: ...}`` parts encrypted).
    :param cipher: Needed when secure parts exist.
    :returns: (plain value, is_secret).
    """
    secret = _has_secure(raw)
    if secret and cipher is None:
        raise StandinError("a passphrase is needed to decrypt secure config")
    return _decrypt_tree(raw, cipher), secret


def config_string(value: Any) -> str:
    """How a config value is passed to programs (objects as JSON).

    :param value: Plain value or object.
    """
    if isinstance(value, str):
        return value
    # As Go's encoding/json writes it for the CLI: compact, object keys sorted.
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def checkpoint_salt(backend: Backend, ref: StackRef) -> str | None:
    """The passphrase salt recorded in the stack's checkpoint.

    :param backend: Backend.
    :param ref: Stack.
    """
    if not backend.exists(ref):
        return None
    latest = backend.read_checkpoint(ref)["checkpoint"]["latest"]
    provider = latest.get("secrets_providers") or {}
    return (provider.get("state") or {}).get("salt")


_PATH_TOKEN = re.compile(r'\[(\d+)\]|\["([^"]*)"\]|\.?([^.\[\]]+)')


def coerce_path_value(value: str) -> Any:
    """A plain value set inside an object with ``--path``, typed as the CLI types it (``config.coerce``): ``true``
    and ``false`` become booleans, a decimal integer without a leading zero an integer, anything else a string.

    :param value: The value as given.
    """
    if value in ("true", "false"):
        return value == "true"
    if len(value) > 1 and value[0] == "0":
        return value
    try:
        number = int(value, 10)
    except ValueError:
        return value
    return number if value.lstrip("+-").isdigit() and -(2**63) <= number < 2**64 else value


def parse_path(key: str) -> list[str | int]:
    """Split a ``--path`` key into segments (``a.b[0]`` -> ``['a', 'b', 0]``).

    :param key: Path; a ``ns:`` prefix stays on the first segment.
    """
    segments: list[str | int] = []
    pos = 0
    while pos < len(key):
        match = _PATH_TOKEN.match(key, pos)
        if not match or match.end() == pos:
            raise StandinError(f"invalid config path {key!r}")
        index, quoted, name = match.groups()
        segments.append(int(index) if index is not None else (quoted if quoted is not None else name))
        pos = match.end()
    if not segments:
        raise StandinError("config key must not be empty")
    return segments


def _set_in(container: Any, segments: list[str | int], value: Any) -> None:
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if isinstance(container, list):
            if not isinstance(seg, int):
                raise StandinError("config path: expected a list index")
            while len(container) <= seg:
                container.append(None)
            if last:
                container[seg] = value
                return
            nxt = container[seg]
        else:
            if last:
                container[seg] = value
                return
            nxt = container.get(seg)
        if not isinstance(nxt, (dict, list)) or _is_secure(nxt):
            nxt = [] if isinstance(segments[i + 1], int) else {}
            container[seg] = nxt
        container = nxt


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _has_secure(value: Any) -> bool:
    if _is_secure(value):
        return True
    if isinstance(value, dict):
        return any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _decrypt_tree(value: Any, cipher: PassphraseCipher | None) -> Any:
    if _is_secure(value):
        assert cipher is not None
        return cipher.decrypt(value["secure"])
    if isinstance(value, dict):
        return {k: _decrypt_tree(v, cipher) for k, v in value.items()}
    if isinstance(value, list):
        return [_decrypt_tree(v, cipher) for v in value]
    return value
