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
