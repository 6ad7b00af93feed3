"""Stack lifecycle through the real ``pulumi.automation`` against the in-process stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi import automation as auto

from airflow_pulumi_decorators.testing.standin import BANNER

from . import programs

pytestmark = pytest.mark.timeout(120)


def _configure(stack: auto.Stack) -> None:
    stack.set_all_config(
        {
            "bucket": auto.ConfigValue("raw-bucket-dev"),
            "token": auto.ConfigValue("tok-Hs92kd", secret=True),
        }
    )


def _checkpoint(backend: Path, project: str = "proj", stack: str = "dev") -> dict:
    return json.loads((backend / ".pulumi" / "stacks" / project / f"{stack}.json").read_text())


def test_full_lifecycle(make_stack, backend: Path) -> None:
    stack = make_stack(programs.pet_and_bucket)
    _configure(stack)

    cfg = stack.get_all_config()
    assert cfg["proj:bucket"].value == "raw-bucket-dev" and not cfg["proj:bucket"].secret
    assert cfg["proj:token"].value == "tok-Hs92kd" and cfg["proj:token"].secret
    assert stack.get_config("bucket").value == "raw-bucket-dev"

    lines: list[str] = []
    up = stack.up(message="first deploy", on_output=lines.append)
    assert lines[0] == BANNER
    assert "Updating (dev):" in up.stdout
    assert "    + gcp:storage/bucket:Bucket raw creating" in lines
    assert "tok-Hs92kd" not in up.stdout and programs.SECRET_OUTPUT not in up.stdout

    outputs = up.outputs
    assert outputs["bucket_name"].value == "raw-bucket-dev"
    assert outputs["pet_id"].value.startswith("pet-")
    assert outputs["bucket_id"].value.startswith("raw-")
    assert outputs["count"].value == 3 and isinstance(outputs["count"].value, int)
    assert outputs["token"].value == "tok-Hs92kd" and outputs["token"].secret
    assert outputs["literal_secret"].value == programs.SECRET_OUTPUT
    assert outputs["literal_secret"].secret and not outputs["pet_id"].secret

    summary = up.summary
    assert summary.kind == "update" and summary.result == "succeeded"
    assert summary.message == "first deploy"
    assert summary.resource_changes == {"create": 3}
    assert summary.version == 0 and summary.end_time >= summary.start_time
    assert summary.config["proj:token"].value == "tok-Hs92kd"

    # State layout and content.
    resources = _checkpoint(backend)["checkpoint"]["latest"]["resources"]
    by_type = {r["type"]: r for r in resources}
    assert resources[0]["urn"] == "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
    bucket = by_type["gcp:storage/bucket:Bucket"]
    assert bucket["urn"] == "urn:pulumi:dev::proj::gcp:storage/bucket:Bucket::raw"
    assert bucket["custom"] is True and bucket["id"] == outputs["bucket_id"].value
    assert bucket["parent"] == resources[0]["urn"]
    assert bucket["inputs"]["location"] == "EU"
    stack_outputs = resources[0]["outputs"]
    assert stack_outputs["token"]["ciphertext"].startswith("v1:")
    assert "plaintext" not in stack_outputs["token"]

    # Second run: nothing changes, ids stay.
    second = stack.up()
    assert second.summary.resource_changes == {"same": 3}
    assert second.outputs["bucket_id"].value == outputs["bucket_id"].value
    assert second.summary.version == 0  # diy backends number no updates

    # Changing an input gives an update.
    stack.set_config("bucket", auto.ConfigValue("raw-bucket-renamed"))
    third = stack.up()
    assert third.summary.resource_changes == {"same": 2, "update": 1}
    assert third.outputs["bucket_name"].value == "raw-bucket-renamed"
    assert third.outputs["bucket_id"].value == outputs["bucket_id"].value

    # Removing a resource from the program deletes it.
    fourth = stack.up(program=programs.pet_only)
    assert fourth.summary.resource_changes == {"same": 2, "delete": 1}
    assert set(fourth.outputs) == {"pet_id"}
    types = [r["type"] for r in _checkpoint(backend)["checkpoint"]["latest"]["resources"]]
    assert "gcp:storage/bucket:Bucket" not in types

    history = stack.history()
    assert len(history) == 4 and {h.version for h in history} == {0}  # newest first, unnumbered
    assert history[-1].message == "first deploy"
    assert all(h.result == "succeeded" for h in history)
    info = stack.info()
    assert info is not None and info.version == 0 and info.resource_changes["delete"] == 1


def test_preview_writes_nothing_and_reports_changes(make_stack, backend: Path) -> None:
    stack = make_stack(programs.one_pet)
    preview = stack.preview()
    assert preview.change_summary == {"create": 2}
    assert "Previewing update (dev):" in preview.stdout
    assert _checkpoint(backend)["checkpoint"]["latest"].get("resources", []) == []
    assert stack.history() == []

    stack.up()
    before = _checkpoint(backend)
    preview = stack.preview(program=programs.three_pets)
    assert preview.change_summary == {"create": 3, "same": 1, "delete": 1}
    after = _checkpoint(backend)
    assert after["checkpoint"]["latest"]["resources"] == before["checkpoint"]["latest"]["resources"]
    assert len(stack.history()) == 1


def test_refresh_destroy_and_remove(make_stack, backend: Path) -> None:
    stack = make_stack(programs.one_pet)
    up = stack.up()
    refresh = stack.refresh()
    assert refresh.summary.kind == "refresh"
    assert refresh.summary.resource_changes == {"same": 2}
    assert stack.outputs()["pet_id"].value == up.outputs["pet_id"].value

    destroy = stack.destroy(remove=True)
    assert destroy.summary.kind == "destroy"
    assert destroy.summary.resource_changes == {"delete": 2}
    assert not (backend / ".pulumi" / "stacks" / "proj" / "dev.json").exists()
    assert not Path(stack.workspace.work_dir, "Pulumi.dev.yaml").exists()
    with pytest.raises(auto.StackNotFoundError):
        auto.select_stack(
            stack_name="dev",
            project_name="proj",
            program=programs.one_pet,
            opts=auto.LocalWorkspaceOptions(
                pulumi_command=stack.workspace.pulumi_command,
                env_vars=stack.workspace.env_vars,
                work_dir=stack.workspace.work_dir,
            ),
        )


def test_events_are_streamed(make_stack) -> None:
    stack = make_stack(programs.one_pet)
    events: list[auto.EngineEvent] = []
    stack.up(on_event=events.append)
    assert [e.sequence for e in events] == sorted(e.sequence for e in events)
    assert events[0].prelude_event is not None
    assert events[-1].cancel_event is not None
    pre = [e.resource_pre_event for e in events if e.resource_pre_event]
    assert {p.metadata.op for p in pre} == {auto.OpType.CREATE}
    pet = [p for p in pre if p.metadata.type == "random:index/randomPet:RandomPet"]
    assert pet and pet[0].metadata.urn == "urn:pulumi:dev::proj::random:index/randomPet:RandomPet::pet"
    outs = [e.res_outputs_event for e in events if e.res_outputs_event]
    # The pet, the stack, and (sent but not counted, as the real engine does) the pet's default provider.
    assert sorted(o.metadata.urn.rsplit("::", 1)[-1] for o in outs) == ["default_4_21_4", "pet", "proj-dev"]
    summaries = [e.summary_event for e in events if e.summary_event]
    assert len(summaries) == 1 and summaries[0].resource_changes == {"create": 2}

    events.clear()
    stack.destroy(on_event=events.append)
    ops = {e.resource_pre_event.metadata.op for e in events if e.resource_pre_event}
    assert ops == {auto.OpType.DELETE}


def test_stack_names_and_listing(make_stack) -> None:
    first = make_stack(programs.one_pet, stack="organization/proj/alpha")
    first.up()
    second = make_stack(programs.one_pet, stack="beta")
    listed = {s.name: s for s in second.workspace.list_stacks()}
    assert set(listed) == {"alpha", "beta"}
    assert listed["beta"].current and not listed["alpha"].current
    # As on the real CLI, the count includes the default provider the engine recorded.
    assert listed["alpha"].resource_count == 3 and listed["alpha"].last_update is not None
    assert first.outputs()["pet_id"].value.startswith("pet-")
    # Re-selecting an existing stack works from a fresh work dir.
    again = make_stack(programs.one_pet, stack="alpha")
    assert again.up().summary.resource_changes == {"same": 2}


def test_export_import_roundtrip_keeps_secrets_encrypted(make_stack, backend: Path) -> None:
    stack = make_stack(programs.pet_and_bucket)
    _configure(stack)
    stack.up()
    exported = stack.export_stack()
    token = next(r for r in exported.deployment["resources"] if r["type"] == "pulumi:pulumi:Stack")
    assert json.loads(token["outputs"]["token"]["plaintext"]) == "tok-Hs92kd"

    # Drop the bucket from the state and import it back.
    exported.deployment["resources"] = [
        r for r in exported.deployment["resources"] if r["type"] != "gcp:storage/bucket:Bucket"
    ]
    stack.import_stack(exported)
    text = (backend / ".pulumi" / "stacks" / "proj" / "dev.json").read_text()
    assert "tok-Hs92kd" not in text and "ciphertext" in text
    assert stack.outputs()["token"].value == "tok-Hs92kd"
    assert stack.preview().change_summary == {"create": 1, "same": 2}


def test_expect_no_changes_and_targets(make_stack) -> None:
    stack = make_stack(programs.one_pet)
    with pytest.raises(auto.CommandError) as info:
        stack.up(expect_no_changes=True)
    assert "no changes were expected for update but changes were proposed" in str(info.value)
    assert stack.up(expect_no_changes=True).summary.resource_changes == {"same": 2}

    # Only the targeted resource may change: untargeted creates are skipped and
    # the untargeted, unregistered "pet" is kept rather than deleted.
    target = "urn:pulumi:dev::proj::random:index/randomPet:RandomPet::a"
    result = stack.up(program=programs.three_pets, target=[target])
    assert result.summary.resource_changes == {"create": 1, "same": 1}
    names = [r["urn"].rsplit("::", 1)[1] for r in stack.export_stack().deployment["resources"]]
    assert names == ["proj-dev", "default_4_21_4", "a", "pet"]  # the stack, the default provider, "a", kept "pet"


def test_parallel_stacks_in_threads(make_stack, backend: Path) -> None:
    stacks = [make_stack(programs.three_pets, stack=f"s{i}") for i in range(3)]
    results: dict[str, object] = {}

    def run(stack: auto.Stack) -> None:
        try:
            results[stack.name] = stack.up()
        except Exception as exc:  # noqa: BLE001 - asserted below
            results[stack.name] = exc

    import os
    import threading

    cwd = os.getcwd()
    threads = [threading.Thread(target=run, args=(s,)) for s in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert os.getcwd() == cwd
    for stack in stacks:
        result = results[stack.name]
        assert isinstance(result, auto.UpResult), result
        assert result.summary.resource_changes == {"create": 4}
        assert result.outputs["last"].value.startswith("c-")
        urns = [r["urn"] for r in _checkpoint(backend, stack=stack.name)["checkpoint"]["latest"]["resources"]]
        assert all(u.startswith(f"urn:pulumi:{stack.name}::proj::") for u in urns)


def test_components_and_structured_config(make_stack) -> None:
    stack = make_stack(programs.component_tree)
    events: list = []
    up = stack.up(on_event=events.append)
    urns = [r["urn"] for r in stack.export_stack().deployment["resources"]]
    assert "urn:pulumi:dev::proj::demo:index:Holder::outer" in urns
    assert "urn:pulumi:dev::proj::demo:index:Holder$random:index/randomPet:RandomPet::inner" in urns
    assert up.outputs["inner"].value.startswith("inner-")
    holder = next(r for r in stack.export_stack().deployment["resources"] if r["type"] == "demo:index:Holder")
    assert "id" not in holder and holder["outputs"] == {"pet": up.outputs["inner"].value}
    assert "info: hello from the program" in up.stdout
    diags = [e.diagnostic_event for e in events if e.diagnostic_event]
    assert any("hello from the program" in d.message and d.severity == "info" for d in diags)

    structured = make_stack(programs.object_config, stack="structured")
    structured.set_all_config(
        {"data.region": auto.ConfigValue("europe-west1"), "data.sizes[0]": auto.ConfigValue("s"),
         "data.sizes[1]": auto.ConfigValue("m", secret=True)},
        path=True,
    )
    all_config = structured.get_all_config()
    assert all_config["proj:data"].secret
    assert json.loads(all_config["proj:data"].value) == {"region": "europe-west1", "sizes": ["s", "m"]}
    result = structured.up()
    assert result.outputs["region"].value == "europe-west1" and result.outputs["region"].secret
    assert result.outputs["sizes"].value == ["s", "m"]


def test_event_log_file_for_older_cli_versions(make_stack) -> None:
    from semver import VersionInfo

    from airflow_pulumi_decorators.testing.standin import StandinCommand

    old = StandinCommand()
    old.version = VersionInfo(3, 200, 0)  # the SDK then tails a file instead of serving gRPC
    stack = make_stack(programs.one_pet, command=old)
    events: list = []
    preview = stack.preview(on_event=events.append)
    assert preview.change_summary == {"create": 2}
    assert events[-1].cancel_event is not None and events[0].prelude_event is not None


def test_pulumi_home_holds_the_selection(make_stack, tmp_path: Path, backend: Path) -> None:
    home = tmp_path / "pulumi-home"
    stack = make_stack(programs.one_pet, env={"PULUMI_HOME": str(home)})
    assert list((home / "workspaces").glob("standin-*-workspace.json"))
    assert not (backend / ".pulumi" / "standin-workspaces").exists()
    assert stack.workspace.stack().name == "dev"
