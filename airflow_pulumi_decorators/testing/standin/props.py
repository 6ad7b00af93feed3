"""Property values: the in-memory form, the state form and the printed form.

In memory a secret is ``{SIG_KEY: SECRET_SIG, "value": v}`` (the wire form the
SDK sends and accepts). In state files a secret is
``{SIG_KEY: SECRET_SIG, "ciphertext": "v1:..."}``; in ``stack export
--show-secrets`` it is ``{SIG_KEY: SECRET_SIG, "plaintext": "<json>"}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeGuard

from .constants import OUTPUT_VALUE_SIG, SECRET_SIG, SIG_KEY, UNKNOWN


def is_secret(value: Any) -> TypeGuard[dict[str, Any]]:
    """:param value: A property value."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def make_secret(value: Any) -> dict[str, Any]:
    """Wrap a value as secret (without double wrapping).

    :param value: Plain or secret value.
    """
    if is_secret(value):
        return value
    return {SIG_KEY: SECRET_SIG, "value": value}


def normalize(value: Any) -> Any:
    """Canonicalise a value decoded from a protobuf Struct.

    Integral floats become ints (Struct has only doubles; Pulumi writes ``3`` not
    ``3.0``), output values become plain/secret/unknown values, and nested
    secrets are collapsed.

    :param value: Decoded value.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == OUTPUT_VALUE_SIG:
            inner = normalize(value["value"]) if "value" in value else UNKNOWN
            return make_secret(inner) if value.get("secret") else inner
        if sig == SECRET_SIG:
            inner = normalize(value.get("value"))
            return make_secret(reveal(inner))
        return {k: normalize(v) for k, v in value.items()}
    return value


def skip_nulls(value: Any) -> Any:
    """Drop null-valued object properties at every depth, as the engine does with resource inputs
    (list elements stay).

    :param value: In-memory value.
    """
    if isinstance(value, dict):
        return {k: skip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [skip_nulls(v) for v in value]
    return value


def as_wire_numbers(value: Any) -> Any:
    """Numbers as a provider sees them after the protobuf round trip: every number a float.

    :param value: In-memory value (secrets revealed).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: as_wire_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_wire_numbers(v) for v in value]
    return value


def contains_secret(value: Any) -> bool:
    """:param value: A property value."""
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def _map_secrets(value: Any, fn: Callable[[Any], Any]) -> Any:
    if is_secret(value):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_secrets(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_secrets(v, fn) for v in value]
    return value


def reveal(value: Any) -> Any:
    """Replace secrets by their plaintext (for ``--show-secrets``).

    :param value: A property value.
    """
    return _map_secrets(value, lambda s: reveal(s.get("value")))


def mask(value: Any) -> Any:
    """Replace secrets by ``"[secret]"`` (for masked output).

    :param value: A property value.
    """
    return _map_secrets(value, lambda s: "[secret]")


def blind(value: Any) -> Any:
    """Replace secrets by a blinded secret, as the CLI writes them into engine events:
    ``{SIG_KEY: SECRET_SIG, "ciphertext": "[secret]"}`` (the secret-ness stays, the value is gone).

    :param value: A property value.
    """
    return _map_secrets(value, lambda s: {SIG_KEY: SECRET_SIG, "ciphertext": "[secret]"})


def secret_plaintexts(value: Any) -> set[str]:
    """String forms of all secret values inside ``value`` (for output masking).

    :param value: A property value.
    """
    found: set[str] = set()

    def collect(secret: dict[str, Any]) -> dict[str, Any]:
        inner = reveal(secret.get("value"))
        found.add(inner if isinstance(inner, str) else json.dumps(inner))
        return secret

    _map_secrets(value, collect)
    return found


def encrypt_value(value: Any, encrypt: Callable[[str], str]) -> Any:
    """State form: secrets become ``ciphertext`` objects.

    :param value: In-memory value.
    :param encrypt: Cipher function.
    """
    return _map_secrets(
        value,
        lambda s: {
            SIG_KEY: SECRET_SIG,
            "ciphertext": encrypt(json.dumps(reveal(s.get("value")))),
        },
    )


def decrypt_value(value: Any, decrypt: Callable[[str], str]) -> Any:
    """In-memory form of a state value (accepts ciphertext and plaintext forms).

    :param value: State value.
    :param decrypt: Cipher function.
    """

    def undo(secret: dict[str, Any]) -> dict[str, Any]:
        if "ciphertext" in secret:
            return make_secret(json.loads(decrypt(secret["ciphertext"])))
        if "plaintext" in secret:
            return make_secret(json.loads(secret["plaintext"]))
        return make_secret(secret.get("value"))

    return _map_secrets(value, undo)


def export_plaintext(value: Any) -> Any:
    """Export form with ``--show-secrets``: ``plaintext`` objects.

    :param value: In-memory value.
    """
    return _map_secrets(
        value,
        lambda s: {
            SIG_KEY: SECRET_SIG,
            "plaintext": json.dumps(reveal(s.get("value"))),
        },
    )


def display(value: Any) -> str:
    """Short rendering for the ``Outputs:`` section (secrets masked).

    :param value: In-memory value.
    """
    if is_secret(value):
        return "[secret]"
    return json.dumps(mask(value))
