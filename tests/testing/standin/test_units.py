"""Unit tests of the stand-in's building blocks (argv, redaction, env, URNs, cipher)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pulumi.automation._minimum_version import _MINIMUM_VERSION
from semver import VersionInfo

from airflow_pulumi_decorators.testing.standin import (
    STANDIN_VERSION,
    StandinCommand,
    StandinError,
    build_env,
    redact_argv,
)
from airflow_pulumi_decorators.testing.standin.args import parse_args
from airflow_pulumi_decorators.testing.standin.engine import generated_id, make_urn
from airflow_pulumi_decorators.testing.standin.secrets import PassphraseCipher
from airflow_pulumi_decorators.testing.standin.state import parse_stack_ref


def test_version_is_semver_and_new_enough() -> None:
    version = VersionInfo.parse(STANDIN_VERSION)
    assert version >= _MINIMUM_VERSION and version > VersionInfo(3, 205, 0)
    assert StandinCommand().version == version
    assert "+standin" in STANDIN_VERSION


def test_parse_args_as_the_sdk_builds_them() -> None:
    args = parse_args(
        ["--non-interactive", "up", "--yes", "--skip-preview", "--message", "m 1",
         "--target", "u1", "--target", "u2", "--client=127.0.0.1:5", "--exec-kind",
         "auto.inline", "--event-log", "tcp://127.0.0.1:9", "--stack", "dev", "--brand-new"]
    )
    assert args.command == ["up"]
    assert args.value("message") == "m 1" and args.values("target") == ["u1", "u2"]
    assert args.value("client") == "127.0.0.1:5" and args.value("stack") == "dev"
    assert args.has("yes") and args.unknown_flags == ["--brand-new"]

    cfg = parse_args(["config", "set-all", "--stack", "s", "--path", "--plaintext", "a.b=1", "--secret", "k=v"])
    assert cfg.command == ["config", "set-all"]
    assert cfg.items("plaintext", "secret") == [("plaintext", "a.b=1"), ("secret", "k=v")]

    single = parse_args(["config", "set", "key", "--secret", "--stack", "s", "--non-interactive", "--", "-v-"])
    assert single.positionals == ["key", "-v-"] and single.has("secret") and single.value("stack") == "s"

    cancel = parse_args(["--non-interactive", "cancel", "--yes", "--", "dev"])
    assert cancel.command == ["cancel"] and cancel.positionals == ["dev"]

    with pytest.raises(StandinError, match='unknown command "launch"'):
        parse_args(["launch"])


def test_redact_argv() -> None:
    argv = ["config", "set-all", "--stack", "dev", "--plaintext", "a=1", "--secret", "pw=hunter2",
            "--secret=t=tok"]
    assert redact_argv(argv) == ["config", "set-all", "--stack", "dev", "--plaintext", "a",
                                 "--secret", "pw", "--secret=t"]
    single = ["config", "set", "pw", "--secret", "--stack", "dev", "--", "hunter2"]
    assert redact_argv(single) == ["config", "set", "pw", "--secret", "--stack", "dev", "--", "[redacted]"]
    js = ["config", "set-all", "--stack", "dev", "--json", '{"a": {"value": "x"}}']
    assert redact_argv(js)[-1] == "[redacted]"
    up = ["up", "--message", "hello", "--stack", "dev"]
    assert redact_argv(up) == up


def test_build_env_removes_none_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_TEST_INHERITED", "x")
    env = build_env({"STANDIN_TEST_INHERITED": None, "EXTRA": "1"})  # type: ignore[dict-item]
    assert "STANDIN_TEST_INHERITED" not in env and env["EXTRA"] == "1"
    assert env["PULUMI_AUTOMATION_API"] == "true"
    assert os.environ["STANDIN_TEST_INHERITED"] == "x"


def test_urns_like_the_engine() -> None:
    stack_urn = make_urn("dev", "proj", "", "pulumi:pulumi:Stack", "proj-dev")
    assert stack_urn == "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
    comp = make_urn("dev", "proj", stack_urn, "my:mod:Comp", "c")
    assert comp == "urn:pulumi:dev::proj::my:mod:Comp::c"
    child = make_urn("dev", "proj", comp, "gcp:storage/bucket:Bucket", "b")
    assert child == "urn:pulumi:dev::proj::my:mod:Comp$gcp:storage/bucket:Bucket::b"
    grandchild = make_urn("dev", "proj", child, "x:y:Z", "z")
    assert grandchild == "urn:pulumi:dev::proj::my:mod:Comp$gcp:storage/bucket:Bucket$x:y:Z::z"
    assert generated_id(child) == generated_id(child) and generated_id(child).startswith("b-")


def test_stack_refs() -> None:
    assert parse_stack_ref("dev", "proj").fqn == "organization/proj/dev"
    assert parse_stack_ref("organization/dev", "proj").fqn == "organization/proj/dev"
    assert parse_stack_ref("organization/other/dev", "proj").project == "other"
    with pytest.raises(StandinError, match="organization"):
        parse_stack_ref("acme/proj/dev", "proj")
    with pytest.raises(StandinError, match="alphanumeric"):
        parse_stack_ref("bad name", "proj")


def test_cipher_roundtrip_and_wrong_passphrase() -> None:
    cipher = PassphraseCipher.create("pass-1")
    token = cipher.encrypt("value")
    assert token.startswith("v1:") and "value" not in token
    again = PassphraseCipher.from_salt_state(cipher.salt_state, "pass-1")
    assert again.decrypt(token) == "value"
    with pytest.raises(StandinError, match="incorrect passphrase"):
        PassphraseCipher.from_salt_state(cipher.salt_state, "pass-2")


def test_console_script_starts_without_grpc() -> None:
    code = (
        "import sys; import airflow_pulumi_decorators.testing.standin.cli as c; "
        "print('grpc' in sys.modules, 'pulumi' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_package_lists_each_lazy_name_in_all() -> None:
    import airflow_pulumi_decorators.testing.standin as standin

    assert standin.__all__ == sorted(standin._EXPORTS)


def test_default_provider_names_follow_the_engine() -> None:
    from airflow_pulumi_decorators.testing.standin.engine import default_provider_name, is_default_provider

    assert default_provider_name("") == "default"
    assert default_provider_name("8.10.0") == "default_8_10_0"
    assert default_provider_name("1.2.3-alpha.1+build.7") == "default_1_2_3_alpha_1_build_7"
    assert is_default_provider("urn:pulumi:dev::p::pulumi:providers:gcp::default_8_10_0")
    assert not is_default_provider("urn:pulumi:dev::p::pulumi:providers:gcp::mine")
    assert not is_default_provider("urn:pulumi:dev::p::apd:index:Thing::default")


def test_ignore_changes_puts_back_the_old_values() -> None:
    from airflow_pulumi_decorators.testing.standin.engine import apply_ignore_changes

    old = {"content": "one", "tags": {"owner": "a", "team": "x"}, "gone": 1}
    new = {"content": "two", "tags": {"owner": "b", "team": "y"}, "extra": 2}
    assert apply_ignore_changes(new, old, ["content"]) == {"content": "one", "tags": new["tags"], "extra": 2}
    assert apply_ignore_changes(new, old, ["tags.owner"])["tags"] == {"owner": "a", "team": "y"}
    assert "extra" not in apply_ignore_changes(new, old, ["extra"])  # no old value: the new one is dropped
    assert apply_ignore_changes(dict(new, __provider="p"), old, ["*"]) == dict(old, __provider="p")
    assert new["content"] == "two"  # the registration's own dict is left alone


def test_checkpoint_manifests_carry_the_clis_magic_cookie(tmp_path) -> None:
    import hashlib

    from airflow_pulumi_decorators.testing.standin.state import check_manifest, new_manifest

    manifest = new_manifest()
    assert manifest["magic"] == hashlib.sha256(manifest["version"].encode()).hexdigest()
    check_manifest(manifest, "x.json")
    check_manifest({"version": "v3.272.0+standin", "magic": ""}, "x.json")  # older stand-ins: still read
    with pytest.raises(StandinError, match="(?s)magic cookie mismatch.*x.json: manifest.magic is not the SHA-256"):
        check_manifest({"version": "v3.274.1", "magic": "00"}, "x.json")


def test_cipher_uses_the_clis_key_derivation_and_still_reads_older_standin_salts() -> None:
    import base64
    import hashlib

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cipher = PassphraseCipher.create("pw")
    salt = base64.b64decode(cipher.salt_state.split(":")[1])
    assert len(salt) == 8
    # What the real CLI does with the salt state: PBKDF2-SHA256, 1,000,000 rounds, then AES-256-GCM.
    key = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 1_000_000, dklen=32)
    _, nonce, sealed = cipher.encrypt("value").split(":")
    assert AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None) == b"value"

    legacy_salt = os.urandom(16)  # what older stand-ins wrote, with their 100,000 rounds
    legacy_key = hashlib.pbkdf2_hmac("sha256", b"pw", legacy_salt, 100_000, dklen=32)
    verifier_nonce = os.urandom(12)
    verifier = AESGCM(legacy_key).encrypt(verifier_nonce, b"pulumi", None)
    state = "v1:" + base64.b64encode(legacy_salt).decode() + ":v1:" + base64.b64encode(verifier_nonce).decode() \
        + ":" + base64.b64encode(verifier).decode()
    assert PassphraseCipher.from_salt_state(state, "pw").salt_state == state
