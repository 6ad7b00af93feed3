"""Running the CLI: its environment, its version check, signals."""

import pytest
from semver import VersionInfo

from airflow_pulumi_decorators import PulumiCliNotFoundError
from airflow_pulumi_decorators.cli import prepare_cli
from airflow_pulumi_decorators.cli.process import CliProcess, engine_environment
from tests.cli.fakes import SDK_MIN, version_cli
from tests.fake_cli import fake_cli as _fake_cli


def test_engine_environment_sets_and_removes():
    env = engine_environment({"KEEP": "1", "GOOGLE_APPLICATION_CREDENTIALS": "/k.json"},
                             {"NEW": "2", "GOOGLE_APPLICATION_CREDENTIALS": None})
    assert env == {"KEEP": "1", "NEW": "2"}


def test_interrupt_without_a_running_process_is_a_no_op(tmp_path):
    assert CliProcess(str(_fake_cli(tmp_path, "exit 0\n"))).interrupt() is False


@pytest.mark.parametrize("printed", ["v3.272.0", "3.272.0", "v3.272.0+standin", "v3.300.0-alpha.1"])
def test_version_check_accepts(tmp_path, printed):
    process = CliProcess(str(version_cli(tmp_path, printed)))
    assert str(process.check_version({"PATH": "/usr/bin:/bin"}, SDK_MIN, sdk_major=3)) == printed.lstrip("v")


@pytest.mark.parametrize(
    "printed, minimum, fragment",
    [
        ("v3.0.5", SDK_MIN, "3.0.5 .* is older than the minimum 3.1.0 \\(this Pulumi SDK\\)"),
        ("v4.0.0", SDK_MIN, "has major version 4, but the Pulumi SDK on this worker is 3.x; install a 3.x CLI"),
        ("v2.25.0", VersionInfo.parse("2.0.0"), "has major version 2"),
        ("hello", SDK_MIN, "printed 'hello' for `version`, not a Pulumi CLI version"),
    ],
)
def test_version_check_refuses(tmp_path, printed, minimum, fragment):
    with pytest.raises(PulumiCliNotFoundError, match=fragment) as exc:
        CliProcess(str(version_cli(tmp_path, printed))).check_version({}, minimum, sdk_major=3)
    assert "get.pulumi.com" in str(exc.value)


def test_version_is_checked_once_per_task_not_per_call(tmp_path, worker):
    log = tmp_path / "calls.log"
    cli = version_cli(tmp_path / "bin", "v3.272.0", log=log)
    process = prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN)
    for _ in range(3):
        assert process.run(["stack", "ls"], str(tmp_path), {})[0] == 0
    calls = [line.split(" | ")[0] for line in log.read_text().splitlines()]
    assert calls == ["version", "stack ls", "stack ls", "stack ls"]


def _version_calls(log):
    return [line.split(" | ")[0] for line in log.read_text().splitlines()].count("version")


def test_version_runs_once_per_worker_and_executable(tmp_path, worker):
    log = tmp_path / "calls.log"
    cli = version_cli(tmp_path / "bin", "v3.272.0", log=log)
    for _ in range(3):  # three tasks on one worker
        assert str(prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN).version) == "3.272.0"
    assert _version_calls(log) == 1
    assert len(list((worker / "cli-versions").glob("*.json"))) == 1

    other = version_cli(tmp_path / "other", "v3.280.0", log=log)  # another executable: asked once too
    assert str(prepare_cli(str(other), {}, sdk_minimum=SDK_MIN).version) == "3.280.0"
    assert str(prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN).version) == "3.272.0"
    assert _version_calls(log) == 2


def test_a_changed_executable_is_asked_again(tmp_path, worker):
    log = tmp_path / "calls.log"
    cli = version_cli(tmp_path / "bin", "v3.272.0", log=log)
    prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN)
    version_cli(tmp_path / "bin", "v3.280.0-beta.1", log=log)  # upgraded in place: another size
    assert str(prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN).version) == "3.280.0-beta.1"
    assert _version_calls(log) == 2


def test_a_refused_or_unreadable_answer_is_not_remembered(tmp_path, worker):
    log = tmp_path / "calls.log"
    cli = version_cli(tmp_path / "bin", "hello", log=log)
    for _ in range(2):
        with pytest.raises(PulumiCliNotFoundError, match="printed 'hello'"):
            prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN)
    assert _version_calls(log) == 2

    cli = version_cli(tmp_path / "bin", "v3.272.0", log=log)
    prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN)
    for entry in (worker / "cli-versions").glob("*.json"):
        entry.write_text("{not json")
    assert str(prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN).version) == "3.272.0"
    assert _version_calls(log) == 4


def test_an_unwritable_worker_folder_only_costs_the_version_call(tmp_path, worker):
    log = tmp_path / "calls.log"
    cli = version_cli(tmp_path / "bin", "v3.272.0", log=log)
    worker.mkdir()
    (worker / "cli-versions").write_text("a file where the cache folder would be")
    for _ in range(2):
        assert str(prepare_cli(str(cli), {}, sdk_minimum=SDK_MIN).version) == "3.272.0"
    assert _version_calls(log) == 2


def test_run_tells_the_hooks_each_cli_pid_when_it_starts_and_when_it_ended(tmp_path):
    pidfile = tmp_path / "pid"
    events = []
    process = CliProcess(str(_fake_cli(tmp_path, f"echo $$ > {pidfile}\nexit 0\n")),
                         on_spawn=lambda pid: events.append(("spawn", pid, pidfile.exists())),
                         on_exit=lambda pid: events.append(("exit", pid, pidfile.exists())))
    assert process.run(["up"], str(tmp_path), {})[0] == 0
    pid = int(pidfile.read_text())
    assert [(kind, p) for kind, p, _ in events] == [("spawn", pid), ("exit", pid)]
    assert events[1][2]  # the exit hook runs once the process ended


def test_a_failing_hook_fails_nothing(tmp_path):
    def boom(pid):
        raise RuntimeError("hook failed")

    process = CliProcess(str(_fake_cli(tmp_path, "echo out\nexit 3\n")), on_spawn=boom, on_exit=boom)
    assert process.run(["up"], str(tmp_path), {}) == (3, "out", "")
