"""Error paths: program failures, locks, passphrases, backends and Pulumi's error wording."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from pulumi import automation as auto

from airflow_pulumi_decorators.testing.standin import Sink, StandinCommand, run_cli

from . import programs
from .conftest import PASSPHRASE, wait_for_lock

pytestmark = pytest.mark.timeout(120)


def test_program_exception_is_inline_source_runtime_error(make_stack, backend: Path) -> None:
    stack = make_stack(programs.failing)
    with pytest.raises(auto.InlineSourceRuntimeError) as info:
        stack.up()
    assert "boom from the program" in str(info.value)
    history = stack.history()
    assert history[0].result == "failed" and history[0].kind == "update"
    # The resource registered before the failure is recorded; the lock is gone.
    urns = [r["urn"] for r in stack.export_stack().deployment["resources"]]
    assert "urn:pulumi:dev::proj::random:index/randomPet:RandomPet::before-failure" in urns
    assert not list((backend / ".pulumi" / "locks").rglob("*.json"))


def test_preview_of_failing_program(make_stack) -> None:
    stack = make_stack(programs.failing)
    with pytest.raises(auto.InlineSourceRuntimeError):
        stack.preview()


def test_concurrent_update_is_refused_while_locked(make_stack, backend: Path) -> None:
    slow = make_stack(programs.three_pets, env={"PULUMI_STANDIN_DELAY_PER_RESOURCE": "0.4"})
    other = make_stack(programs.three_pets)
    results: dict[str, object] = {}

    def run_slow() -> None:
        try:
            results["up"] = slow.up()
        except Exception as exc:  # noqa: BLE001 - reported through the dict
            results["up"] = exc

    worker = threading.Thread(target=run_slow)
    worker.start()
    lock = wait_for_lock(backend, timeout=20.0)
    info = json.loads(lock.read_text())
    assert set(info) >= {"pid", "username", "hostname", "timestamp"}
    with pytest.raises(auto.ConcurrentUpdateError) as err:
        other.up()
    text = str(err.value)
    assert "error: the stack is currently locked by 1 lock(s)." in text
    assert "delete the lock file with `pulumi cancel`" in text
    assert f"(pid {info['pid']})" in text and str(lock) in text
    worker.join(60)
    assert isinstance(results["up"], auto.UpResult), results["up"]
    assert not lock.exists()
    assert other.up().summary.resource_changes == {"same": 4}


def test_cancel_removes_stale_lock(make_stack, backend: Path) -> None:
    stack = make_stack(programs.one_pet)
    lock_dir = backend / ".pulumi" / "locks" / "organization" / "proj" / "dev"
    lock_dir.mkdir(parents=True, exist_ok=True)
    stale = lock_dir / "0f6a2a59-dead-beef-0000-000000000000.json"
    stale.write_text(json.dumps({"pid": 999999, "username": "ghost", "hostname": "gone", "timestamp": "x"}))
    with pytest.raises(auto.ConcurrentUpdateError) as err:
        stack.up()
    assert "created by ghost@gone (pid 999999)" in str(err.value)
    stack.cancel()
    assert not stale.exists()
    assert stack.up().summary.result == "succeeded"


def test_wrong_and_missing_passphrase(make_stack, base_env: dict) -> None:
    stack = make_stack(programs.one_pet)
    stack.set_config("pw", auto.ConfigValue("s3", secret=True))
    stack.up()

    wrong = make_stack(programs.one_pet, env={"PULUMI_CONFIG_PASSPHRASE": "not it"})
    with pytest.raises(auto.CommandError) as err:
        wrong.up()
    assert "incorrect passphrase" in str(err.value)

    env = {k: v for k, v in base_env.items() if k != "PULUMI_CONFIG_PASSPHRASE"}
    missing = make_stack(programs.one_pet, env=env, replace_env=True)
    with pytest.raises(auto.CommandError) as err:
        missing.up()
    assert (
        "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
        "PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
    ) in str(err.value)
    with pytest.raises(auto.CommandError):
        make_stack(programs.one_pet, stack="new-stack", env=env, replace_env=True)


def test_passphrase_file(make_stack, base_env: dict, tmp_path: Path) -> None:
    secret_file = tmp_path / "pass.txt"
    secret_file.write_text(PASSPHRASE + "\n")
    env = {"PULUMI_BACKEND_URL": base_env["PULUMI_BACKEND_URL"], "PULUMI_CONFIG_PASSPHRASE_FILE": str(secret_file)}
    stack = make_stack(programs.secret_only, env=env, replace_env=True)
    stack.set_config("pw", auto.ConfigValue("s3", secret=True))
    assert stack.get_config("pw").value == "s3"
    stack.up()
    # Another work dir (no Pulumi.dev.yaml there) finds the salt in the checkpoint.
    other = make_stack(programs.secret_only)
    assert other.outputs()["literal_secret"].value == programs.SECRET_OUTPUT


def test_stack_errors_map_to_sdk_errors(make_stack) -> None:
    stack = make_stack(programs.one_pet)
    with pytest.raises(auto.StackAlreadyExistsError):
        stack.workspace.create_stack("dev")
    with pytest.raises(auto.StackNotFoundError):
        stack.workspace.select_stack("nope")
    stack.up()
    with pytest.raises(auto.CommandError) as err:
        stack.workspace.remove_stack("dev")
    assert "still has resources; removal rejected" in str(err.value)
    stack.workspace.remove_stack("dev", force=True)
    assert stack.workspace.list_stacks() == []


def _run(argv: list[str], env: dict, cwd: str) -> tuple[int, Sink]:
    sink = Sink()
    return run_cli(argv, env, cwd, sink, "in-process"), sink


def test_backend_and_command_errors(tmp_path: Path) -> None:
    code, sink = _run(["stack", "ls", "--json"], {}, str(tmp_path))
    assert code == 1 and "no backend configured; set PULUMI_BACKEND_URL" in sink.stderr
    code, sink = _run(["stack", "ls"], {"PULUMI_BACKEND_URL": "gs://bucket"}, str(tmp_path))
    assert code == 1 and "supports only file:// backends" in sink.stderr
    code, sink = _run(["frobnicate"], {}, str(tmp_path))
    assert code == 1 and 'unknown command "frobnicate"' in sink.stderr
    code, sink = _run(["version"], {}, str(tmp_path))
    assert code == 0 and sink.stdout.startswith("v3.")


def test_unsupported_secrets_provider(make_stack, base_env: dict, tmp_path: Path) -> None:
    opts = auto.LocalWorkspaceOptions(
        pulumi_command=StandinCommand(),
        env_vars=base_env,
        secrets_provider="gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
        work_dir=str(tmp_path),
    )
    with pytest.raises(auto.CommandError) as err:
        auto.create_stack("dev", project_name="proj", program=programs.one_pet, opts=opts)
    assert "not supported by the stand-in" in str(err.value)


def test_local_program_is_refused(tmp_path: Path, base_env: dict) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: proj\nruntime: python\n")
    opts = auto.LocalWorkspaceOptions(pulumi_command=StandinCommand(), env_vars=base_env)
    stack = auto.create_or_select_stack("dev", work_dir=str(tmp_path), opts=opts)
    with pytest.raises(auto.CommandError) as err:
        stack.up()
    assert "runs only inline Automation API programs" in str(err.value)


def test_protected_resource_is_not_deleted(make_stack) -> None:
    stack = make_stack(programs.protected_pet)
    stack.up()
    with pytest.raises(auto.CommandError) as err:
        stack.up(program=programs.empty)
    assert "as it is currently marked for protection" in str(err.value)
    assert any(r["type"] == "random:index/randomPet:RandomPet" for r in stack.export_stack().deployment["resources"])
    with pytest.raises(auto.CommandError):
        stack.destroy()


@pytest.mark.parametrize(
    ("garble", "cli_says"),
    [
        (lambda good: good[: len(good) // 2], "unexpected end of JSON input"),
        (lambda good: "garbled {{{", "invalid character 'g' looking for beginning of value"),
    ],
    ids=["truncated", "garbled"],
)
def test_corrupt_checkpoint_fails_in_the_clis_words(make_stack, backend: Path, garble, cli_says) -> None:
    stack = make_stack(programs.one_pet)
    stack.up()
    checkpoint = backend / ".pulumi" / "stacks" / "proj" / "dev.json"
    checkpoint.write_text(garble(checkpoint.read_text()))
    for operation in (stack.up, stack.preview, stack.outputs):
        with pytest.raises(auto.CommandError) as err:
            operation()
        # The Pulumi CLI 3.274's line, exit code 1; no Python traceback.
        assert f"error: failed to load checkpoint: place 1: {cli_says}" in str(err.value)
        assert "code: 1\n" in str(err.value)
        assert "Traceback" not in str(err.value) and "internal error" not in str(err.value)


def test_backend_folder_under_a_file_fails_in_the_clis_words(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"file://{blocker}/state"
    env = {"PULUMI_BACKEND_URL": url, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    for argv in (["stack", "ls"], ["stack", "select", "--stack", "organization/proj/dev", "--create"]):
        code, sink = _run(argv, env, str(tmp_path))
        assert code == 1
        # The Pulumi CLI 3.274's wording, the whole of stderr.
        said = f'error: unable to open state directory "{url}": stat {blocker}/state: not a directory'
        assert sink.stderr.strip() == said
