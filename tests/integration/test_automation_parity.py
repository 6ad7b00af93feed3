"""Pulumi's Automation API, called directly, behaves the same on the stand-in and on the real CLI 3.274.1 in the
areas where the stand-in used to differ: nested config (``path=True``), errors streamed to ``on_error``,
``preview(json=True)``, the ``refreshing`` lines of ``refresh=True``, ``destroy(exclude_protected=True)`` and
``stack.rename``. Each test runs on both engines and asserts what was measured on the real CLI; the programs are
component resources only, so the real CLI needs no plugin.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.engines import NO_REAL_CLI, real_pulumi

pytestmark = pytest.mark.integration

ENGINES = ("standin", "real")


def _command(engine: str) -> Any:
    from pulumi import automation as auto

    if engine == "standin":
        from airflow_pulumi_decorators.testing.standin import StandinCommand

        return StandinCommand()
    found = real_pulumi()
    if found is None:
        if os.environ.get("APD_REQUIRE_REAL_PULUMI"):
            pytest.fail(f"APD_REQUIRE_REAL_PULUMI is set but there is {NO_REAL_CLI}")
        pytest.skip(NO_REAL_CLI)
    return auto.PulumiCommand(root=os.path.dirname(os.path.dirname(found)), skip_version_check=True)


def _stack(engine: str, tmp_path: Path, program: Callable[[], None], project: str = "parity") -> Any:
    from pulumi import automation as auto

    backend = tmp_path / "state"
    backend.mkdir(exist_ok=True)
    options = auto.LocalWorkspaceOptions(
        pulumi_command=_command(engine),
        work_dir=str(tmp_path / "work"),
        env_vars={"PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": "parity-pass",
                  "PULUMI_HOME": str(tmp_path / "home"), "PULUMI_SKIP_UPDATE_CHECK": "true"},
    )
    (tmp_path / "work").mkdir(exist_ok=True)
    return auto.create_or_select_stack(stack_name="dev", project_name=project, program=program, opts=options)


def _boxes() -> None:
    """Two components, one protected when the config says so, and a stack output."""
    import pulumi

    class Box(pulumi.ComponentResource):
        def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
            super().__init__("parity:index:Box", name, None, opts)

    guarded = pulumi.Config().get_bool("guard") or False
    Box("guarded", opts=pulumi.ResourceOptions(protect=guarded))
    Box("loose")
    pulumi.export("label", "boxes")


def _nested_reader() -> None:
    import pulumi

    config = pulumi.Config()
    pulumi.export("db", config.get_object("db"))
    pulumi.export("hosts", config.get_object("hosts"))


@pytest.mark.parametrize("engine", ENGINES)
def test_nested_config_set_read_and_removed_by_path(engine, tmp_path):
    from pulumi.automation import ConfigValue

    stack = _stack(engine, tmp_path, _nested_reader)
    stack.set_config("db.port", ConfigValue("5432"), path=True)
    stack.set_config("db.password", ConfigValue("pw-nested", secret=True), path=True)
    stack.set_config("hosts[0]", ConfigValue("a.internal"), path=True)
    stack.set_all_config({"hosts[1]": ConfigValue("b.internal"), "db.name": ConfigValue("app")}, path=True)
    assert stack.get_config("db.port", path=True).value == "5432"
    password = stack.get_config("db.password", path=True)
    assert (password.value, password.secret) == ("pw-nested", True)
    everything = {k: (v.value, v.secret) for k, v in stack.get_all_config().items()}
    # Objects come back as compact JSON with sorted keys; an object holding a secret is secret as a whole; a
    # number set by path is stored as a number (`get_config` still gives its text).
    assert everything == {
        "parity:db": ('{"name":"app","password":"pw-nested","port":5432}', True),
        "parity:hosts": ('["a.internal","b.internal"]', False),
    }
    stack.remove_all_config(["db.password", "hosts[0]"], path=True)
    outputs = {k: v.value for k, v in stack.up().outputs.items()}
    assert outputs == {"db": {"name": "app", "port": 5432}, "hosts": ["b.internal"]}


@pytest.mark.parametrize("engine", ENGINES)
def test_an_unsupported_color_is_streamed_to_on_error(engine, tmp_path):
    from pulumi.automation import errors

    stack = _stack(engine, tmp_path, _boxes)
    streamed: list[str] = []
    with pytest.raises(errors.CommandError):
        stack.preview(color="sea green", on_error=streamed.append)
    assert streamed == ["error: unsupported color option: 'sea green'.  Supported values are: auto, always, "
                        "never, raw"]


@pytest.mark.parametrize("engine", ENGINES)
def test_preview_json_prints_one_json_document_and_refresh_lines_say_refreshing(engine, tmp_path):
    stack = _stack(engine, tmp_path, _boxes)
    stack.up()
    document = json.loads(stack.preview(json=True).stdout)
    assert document["changeSummary"] == {"same": 3}
    # Unchanged resources are left out of the steps, all but the root stack.
    assert [(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in document["steps"]] == [("same", "parity-dev")]
    assert isinstance(document["duration"], int) and "config" not in document  # no config: no "config" key

    for run in (lambda: stack.preview(refresh=True), lambda: stack.up(refresh=True)):
        text = run().stdout
        assert [line.split()[-1] for line in text.splitlines() if "Box loose refreshing" in line]
    destroyed = stack.destroy(refresh=True)
    assert "Box guarded refreshing" in destroyed.stdout
    assert destroyed.summary.resource_changes == {"delete": 3}


@pytest.mark.parametrize("engine", ENGINES)
def test_destroy_excluding_protected_keeps_them_and_what_they_depend_on(engine, tmp_path):
    from pulumi.automation import ConfigValue

    stack = _stack(engine, tmp_path, _boxes)
    stack.set_config("guard", ConfigValue("true"))
    stack.up()
    destroyed = stack.destroy(exclude_protected=True)
    assert destroyed.summary.resource_changes == {"delete": 1, "same": 2}
    assert destroyed.stdout.rstrip().endswith(
        "All unprotected resources were destroyed. There are still 2 protected resources associated with this "
        "stack.")
    kept = sorted(r["urn"].rsplit("::", 1)[-1] for r in stack.export_stack().deployment["resources"])
    assert kept == ["guarded", "parity-dev"]  # the protected box and its parent, the stack

    stack.remove_config("guard")
    stack.up()
    assert stack.destroy().summary.resource_changes == {"delete": 3}


@pytest.mark.parametrize("engine", ENGINES)
def test_rename_moves_the_state_its_urns_and_history(engine, tmp_path):
    stack = _stack(engine, tmp_path, _boxes)
    stack.up()
    stack.rename("prod")
    assert stack.name == "prod"
    assert [s.name for s in stack.workspace.list_stacks()] == ["prod"]
    urns = [r["urn"] for r in stack.export_stack().deployment["resources"]]
    assert urns and all(u.startswith("urn:pulumi:prod::parity::") for u in urns)
    assert len(stack.history()) == 1
    assert stack.outputs()["label"].value == "boxes"
    assert stack.preview().change_summary == {"same": 3}
