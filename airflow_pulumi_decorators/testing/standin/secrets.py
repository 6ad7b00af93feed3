"""Passphrase secrets provider: AES-256-GCM with a PBKDF2-SHA256 derived key.

The salt string has Pulumi's shape ``v1:<salt>:v1:<nonce>:<ciphertext>``: the
trailing part is the encryption of the word ``pulumi``, so a wrong passphrase is
detected before any value is decrypted. Ciphertexts are ``v1:<nonce>:<ct>``.
The key is derived as the real CLI derives it (PBKDF2-SHA256, 1,000,000 rounds,
an 8-byte salt), so either engine reads the secrets the other wrote. Stacks made
by older stand-ins (a 16-byte salt) keep their cheaper derivation (100,000 rounds).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Mapping

from .constants import ENV_PASSPHRASE, ENV_PASSPHRASE_FILE
from .sink import StandinError

#: PBKDF2 rounds of the real CLI's passphrase provider (``config.NewSymmetricCrypterFromPassphrase``).
PBKDF2_ITERATIONS = 1_000_000
#: Salt length the real CLI makes (``passphrase.NewPassphraseSecretsManager``).
SALT_BYTES = 8
#: Rounds of the stand-in's earlier own derivation, recognised by its 16-byte salts.
LEGACY_ITERATIONS = 100_000
_LEGACY_SALT_BYTES = 16
_VERIFY_WORD = b"pulumi"

_KEY_CACHE: dict[tuple[bytes, str], bytes] = {}
_KEY_CACHE_LOCK = threading.Lock()

PASSPHRASE_MISSING = (
    "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
    "PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def read_passphrase(env: Mapping[str, str]) -> str:
    """Return the passphrase from the environment like Pulumi does.

    :param env: The command's environment.
    :raises StandinError: When neither variable is set.
    """
    if ENV_PASSPHRASE in env:
        return env[ENV_PASSPHRASE]
    path = env.get(ENV_PASSPHRASE_FILE)
    if path:
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except OSError as exc:
            raise StandinError(
                f"unable to read PULUMI_CONFIG_PASSPHRASE_FILE: {exc}"
            ) from exc
    raise StandinError(PASSPHRASE_MISSING)


def _derive_key(salt: bytes, passphrase: str) -> bytes:
    # Cache by salt and a hash of the passphrase: derivation is deliberately slow.
    cache_key = (salt, hashlib.sha256(passphrase.encode("utf-8")).hexdigest())
    with _KEY_CACHE_LOCK:
        cached = _KEY_CACHE.get(cache_key)
    if cached is not None:
        return cached
    rounds = LEGACY_ITERATIONS if len(salt) == _LEGACY_SALT_BYTES else PBKDF2_ITERATIONS
    key = hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8"), salt, rounds, dklen=32)
    with _KEY_CACHE_LOCK:
        _KEY_CACHE[cache_key] = key
    return key


class PassphraseCipher:
    """Encrypts and decrypts stack secrets.

    :param key: The 32-byte AES key.
    :param salt_state: The ``encryptionsalt`` string this key belongs to.
    """

    def __init__(self, key: bytes, salt_state: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)
        self.salt_state = salt_state

    @classmethod
    def create(cls, passphrase: str) -> PassphraseCipher:
        """Make a new cipher with a fresh random salt.

        :param passphrase: The stack passphrase.
        """
        salt = os.urandom(SALT_BYTES)
        key = _derive_key(salt, passphrase)
        probe = cls(key, "")
        verifier = probe.encrypt(_VERIFY_WORD.decode("ascii"))
        return cls(key, f"v1:{_b64(salt)}:{verifier}")

    @classmethod
    def from_salt_state(cls, salt_state: str, passphrase: str) -> PassphraseCipher:
        """Rebuild the cipher of a stack and check the passphrase.

        :param salt_state: The stack's ``encryptionsalt`` value.
        :param passphrase: The passphrase to check.
        :raises StandinError: ``incorrect passphrase`` or a malformed salt.
        """
        parts = salt_state.split(":")
        if len(parts) != 5 or parts[0] != "v1" or parts[2] != "v1":
            raise StandinError(
                "bad encryptionsalt: not written by the stand-in's passphrase provider"
            )
        key = _derive_key(_unb64(parts[1]), passphrase)
        cipher = cls(key, salt_state)
        try:
            word = cipher.decrypt(":".join(parts[2:]))
        except StandinError:
            raise StandinError("incorrect passphrase") from None
        if word != _VERIFY_WORD.decode("ascii"):
            raise StandinError("incorrect passphrase")
        return cipher

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a string.

        :param plaintext: Value to encrypt.
        :returns: ``v1:<nonce>:<ciphertext>``.
        """
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode("utf-8"), None)
        return f"v1:{_b64(nonce)}:{_b64(ct)}"

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a value made by :meth:`encrypt`.

        :param ciphertext: ``v1:<nonce>:<ciphertext>``.
        :raises StandinError: If it does not decrypt with this key.
        """
        from cryptography.exceptions import InvalidTag

        parts = ciphertext.split(":")
        if len(parts) != 3 or parts[0] != "v1":
            raise StandinError("failed to decrypt: malformed ciphertext")
        try:
            plain = self._aead.decrypt(_unb64(parts[1]), _unb64(parts[2]), None)
        except (InvalidTag, ValueError):
            raise StandinError(
                "failed to decrypt: incorrect passphrase or corrupted value"
            ) from None
        return plain.decode("utf-8")


def cipher_for(
    salt_state: str | None, env: Mapping[str, str]
) -> PassphraseCipher:
    """Cipher for an existing salt, or a new one when there is none yet.

    :param salt_state: Existing ``encryptionsalt`` or None.
    :param env: Environment holding the passphrase.
    """
    passphrase = read_passphrase(env)
    if salt_state:
        return PassphraseCipher.from_salt_state(salt_state, passphrase)
    return PassphraseCipher.create(passphrase)


def check_secrets_provider(provider: str | None) -> None:
    """Refuse secrets providers other than the passphrase provider.

    :param provider: Value of ``--secrets-provider``.
    :raises StandinError: For anything but ``passphrase``/``default``.
    """
    if provider in (None, "", "passphrase", "default"):
        return
    raise StandinError(
        f"secrets provider {provider!r} is not supported by the stand-in engine; "
        "only the passphrase provider is available offline"
    )
