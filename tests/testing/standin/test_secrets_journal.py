"""Secrets never land in plaintext on disk; the journal records names, not values."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pulumi import automation as auto

from airflow_pulumi_decorators.testing.standin import read_journal

from . import programs

pytestmark = pytest.mark.timeout(120)

CONFIG_SECRET = "cfg-secret-7Hq2Lm"
ENV_SECRET = "env-secret-value-93ZkW"


def _files_containing(roots: list[Path], needle: str) -> list[Path]:
    hits = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and needle.encode() in path.read_bytes():
                hits.append(path)
    return hits


def test_no_plaintext_secret_anywhere(make_stack, backend: Path) -> None:
    stack = make_stack(programs.pet_and_bucket)
    stack.set_all_config(
        {"bucket": auto.ConfigValue("b1"), "token": auto.ConfigValue(CONFIG_SECRET, secret=True)}
    )
    events: list = []
    up = stack.up(on_event=events.append)
    stack.preview()
    stack.refresh()
    stack.history()
    stack.export_stack()
    stack.outputs()

    assert up.outputs["token"].value == CONFIG_SECRET
    roots = [backend, Path(stack.workspace.work_dir)]
    for needle in (CONFIG_SECRET, programs.SECRET_OUTPUT):
        assert _files_containing(roots, needle) == [], needle
        assert needle not in up.stdout and needle not in up.stderr
        assert all(needle not in repr(vars(e)) for e in events), needle
    config_file = Path(stack.workspace.work_dir, "Pulumi.dev.yaml").read_text()
    assert "secure: v1:" in config_file and "encryptionsalt: v1:" in config_file

    # Masked vs revealed outputs straight from the CLI contract.
    masked = stack.workspace.pulumi_command.run(
        ["stack", "output", "--json", "--stack", "dev"], stack.workspace.work_dir,
        stack.workspace.env_vars,
    )
    shown = stack.workspace.pulumi_command.run(
        ["stack", "output", "--json", "--show-secrets", "--stack", "dev"],
        stack.workspace.work_dir, stack.workspace.env_vars,
    )
    assert json.loads(masked.stdout)["token"] == "[secret]"
    assert json.loads(masked.stdout)["bucket_name"] == "b1"
    assert json.loads(shown.stdout)["token"] == CONFIG_SECRET

    history_masked = stack.history(show_secrets=False)[0]
    assert history_masked.config["proj:token"].value == "[secret]"


def test_journal_records_names_not_values(make_stack, backend: Path, tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    stack = make_stack(
        programs.one_pet,
        env={"PULUMI_STANDIN_JOURNAL": str(journal), "MY_TOKEN": ENV_SECRET},
    )
    stack.set_all_config(
        {"plain": auto.ConfigValue("plain-value-1"), "pw": auto.ConfigValue(CONFIG_SECRET, secret=True)}
    )
    stack.set_config("other", auto.ConfigValue(CONFIG_SECRET + "-2", secret=True))
    stack.up(message="journal run")

    text = journal.read_text()
    for needle in (ENV_SECRET, CONFIG_SECRET, "plain-value-1", "correct horse"):
        assert needle not in text, needle
    records = read_journal(str(journal))
    commands = [r["argv"] for r in records]
    assert ["--non-interactive", "version"] not in commands  # StandinCommand runs no version
    set_all = next(a for a in commands if "set-all" in a)
    assert "pw" in set_all and "plain" in set_all
    assert "[redacted]" in next(a for a in commands if "set" in a and "other" in a)
    up = next(r for r in records if "up" in r["argv"])
    assert up["form"] == "in-process" and up["code"] == 0 and up["duration_s"] >= 0
    assert "MY_TOKEN" in up["env_names"] and "PULUMI_CONFIG_PASSPHRASE" in up["env_names"]
    assert up["env_names"] == sorted(up["env_names"])
    assert up["cwd"] == stack.workspace.work_dir and up["pid"] == os.getpid()
    assert "journal run" in up["argv"]
    # The default journal location is unused when PULUMI_STANDIN_JOURNAL is set.
    assert not (backend / ".pulumi" / "standin-journal.jsonl").exists()


def test_default_journal_lives_in_backend(make_stack, backend: Path) -> None:
    stack = make_stack(programs.one_pet)
    stack.up()
    records = read_journal(str(backend / ".pulumi" / "standin-journal.jsonl"))
    argvs = [r["argv"][1] for r in records]
    assert argvs[:2] == ["stack", "stack"]  # select (fails), then init
    assert records[0]["code"] == 6 and records[1]["code"] == 0
    assert "up" in argvs and argvs.count("stack") >= 4


def _nested_secrets_program() -> None:
    import pulumi

    class Group(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("test:index:Group", name)
            self.register_outputs({"size": 2})

    Group("g")
    pulumi.export("plain", "hello")
    pulumi.export("top", pulumi.Output.secret("s3cret"))
    pulumi.export("nested", {"a": pulumi.Output.secret("x"), "b": 1, "l": [1, pulumi.Output.secret(2)]})


def test_outputs_events_come_when_registered_with_secrets_blinded(make_stack) -> None:
    """As the CLI (3.274) reports them: a component's (and the root stack's) outputs in one event, when the
    program registers them; a secret, at any depth, as a blinded secret value."""
    stack = make_stack(_nested_secrets_program)
    for op in ("create", "same"):
        events: list = []
        stack.up(on_event=events.append)
        outputs = [(e.res_outputs_event.metadata.type, e.res_outputs_event.metadata.op.value,
                    e.res_outputs_event.metadata.new.outputs) for e in events if e.res_outputs_event is not None]
        blinded = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}
        assert [o for o in outputs if o[0] == "pulumi:pulumi:Stack"] == [("pulumi:pulumi:Stack", op, {
            "plain": "hello", "top": blinded, "nested": {"a": blinded, "b": 1, "l": [1, blinded]}})]
        assert [o for o in outputs if o[0] == "test:index:Group"] == [("test:index:Group", op, {"size": 2})]
        assert "s3cret" not in repr([vars(e) for e in events])
