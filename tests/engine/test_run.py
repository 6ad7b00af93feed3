"""The engine's run: CLI discovery, version check, environment hand-off, errors as they reach the task.

Small fake executables stand in for particular CLI behaviours here; full runs use the stand-in engine.
Translation on its own is unit-tested in test_translate.py.
"""

import json
import os

import pytest

from airflow_pulumi_decorators import (
    ConcurrentUpdateError,
    ConfigurationError,
    OperationInterruptedError,
    PulumiCliNotFoundError,
    PulumiEngineError,
    StackNotFoundError,
)
from airflow_pulumi_decorators.engine import Engine, OperationRequest, RunContext
from airflow_pulumi_decorators.testing import StandinCommand
from tests.fake_cli import fake_cli as _fake_cli


def _request(env=None, pulumi_home=None, **kw):
    env = {"PULUMI_BACKEND_URL": "file:///nowhere"} if env is None else env
    return OperationRequest(
        project="proj", stack="dev", program=kw.pop("program", lambda: None),
        context=RunContext.from_env(env, pulumi_home=pulumi_home), **kw,
    )


def test_missing_cli_is_a_clear_error_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PulumiCliNotFoundError, match="curl -fsSL https://get.pulumi.com"):
        Engine(on_output=lambda _: None).run(_request())


def test_cli_older_than_sdk_minimum_is_refused(tmp_path):
    _fake_cli(tmp_path, "exit 0\n", version="v3.0.0")
    with pytest.raises(PulumiCliNotFoundError, match="older than the minimum"):
        Engine(cli_path=str(tmp_path), on_output=lambda _: None).run(_request())


def test_cli_printing_garbage_for_version_is_refused(tmp_path):
    _fake_cli(tmp_path, "exit 0\n", version="hello")
    with pytest.raises(PulumiCliNotFoundError, match="not a Pulumi CLI version"):
        Engine(cli_path=str(tmp_path), on_output=lambda _: None).run(_request())


def _run_with(tmp_path, body):
    _fake_cli(tmp_path, body)
    lines = []
    engine = Engine(cli_path=str(tmp_path), work_root=str(tmp_path), on_output=lines.append)
    return engine, lines


def test_lock_conflict_becomes_concurrent_update_error(tmp_path):
    engine, _ = _run_with(tmp_path, """
        echo "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \\`pulumi cancel\\`." >&2
        echo "  file:///x/.pulumi/locks/proj/dev/1.json: created by airflow@worker (pid 7) at 2026-11-25T09:00:00Z" >&2
        exit 255
    """)
    with pytest.raises(ConcurrentUpdateError, match="created by airflow@worker") as info:
        engine.run(_request())
    assert info.value.stack == "dev"


def _calls(log):
    return [line.replace("--non-interactive ", "") for line in log.read_text().splitlines()]


def test_a_missing_stack_is_created_by_the_select_call(tmp_path):
    log = tmp_path / "calls"
    engine, _ = _run_with(tmp_path, f"""
        echo "$@" >> {log}
        case "$*" in
          *"stack select --create --stack dev"*) echo "Created stack 'dev'" >&2; exit 0;;
          *) echo "error: boom on $2" >&2; exit 1;;
        esac
    """)
    with pytest.raises(PulumiEngineError, match="boom on up"):
        engine.run(_request())
    assert [c for c in _calls(log) if c.startswith("stack")] == ["stack select --create --stack dev"]


@pytest.mark.parametrize("operation", ["refresh", "destroy"])
def test_refresh_and_destroy_only_select(tmp_path, operation):
    log = tmp_path / "calls"
    engine, _ = _run_with(tmp_path, f"""
        echo "$@" >> {log}
        echo "error: no stack named 'dev' found" >&2; exit 255
    """)
    with pytest.raises(StackNotFoundError):
        engine.run(_request(operation=operation))
    assert [c for c in _calls(log) if c.startswith("stack")] == ["stack select --stack dev"]


def test_a_stack_another_run_created_meanwhile_is_selected(tmp_path):
    log = tmp_path / "calls"
    engine, _ = _run_with(tmp_path, f"""
        echo "$@" >> {log}
        case "$*" in
          *"stack select --create"*) echo "error: stack 'organization/proj/dev' already exists" >&2; exit 255;;
          *"stack select --stack dev"*) exit 0;;
          *) echo "error: boom on $2" >&2; exit 1;;
        esac
    """)
    with pytest.raises(PulumiEngineError, match="boom on up"):
        engine.run(_request())
    assert [c for c in _calls(log) if c.startswith("stack")] == [
        "stack select --create --stack dev", "stack select --stack dev"]


def test_creating_a_locked_stack_waits_within_lock_wait(tmp_path):
    from airflow_pulumi_decorators.operations import OperationOptions

    log, locked = tmp_path / "calls", tmp_path / "locked-once"
    engine, lines = _run_with(tmp_path, f"""
        echo "$@" >> {log}
        case "$*" in
          *"stack select --create"*)
            if [ ! -e {locked} ]; then
              touch {locked}
              echo "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \\`pulumi cancel\\`." >&2
              echo "  file:///x/.pulumi/locks/organization/proj/dev/1.json: created by airflow@worker (pid 7) at 2026-11-25T09:00:00Z" >&2
              exit 255
            fi
            echo "Created stack 'dev'" >&2; exit 0;;
          *) echo "error: boom on $2" >&2; exit 1;;
        esac
    """)
    with pytest.raises(PulumiEngineError, match="boom on up"):
        engine.run(_request(options=OperationOptions(lock_wait=30, lock_retry_delay=0.1)))
    assert [c for c in _calls(log) if c.startswith("stack")] == ["stack select --create --stack dev"] * 2
    assert any("is locked by" in line and "retrying in" in line for line in lines)


def test_missing_passphrase_is_a_configuration_error_naming_the_variable(tmp_path):
    engine, _ = _run_with(tmp_path, """
        echo "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables" >&2
        exit 255
    """)
    with pytest.raises(ConfigurationError, match="set PULUMI_CONFIG_PASSPHRASE"):
        engine.run(_request())


def test_stack_not_found_is_translated(tmp_path):
    engine, _ = _run_with(tmp_path, """
        case "$*" in *"stack select"*) exit 0;; esac
        echo "error: no stack named 'dev' found" >&2; exit 255
    """)
    with pytest.raises(StackNotFoundError):
        engine.run(_request(config={"a": "b"}))


def test_engine_env_reaches_cli_and_removed_variables_do_not(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/keys/should-not-pass.json")
    dump = tmp_path / "env"
    engine, _ = _run_with(tmp_path, f"""
        env > {dump}
        echo "error: stop here" >&2; exit 1
    """)
    with pytest.raises(PulumiEngineError):
        engine.run(_request(env={"PULUMI_BACKEND_URL": "file:///b", "GOOGLE_APPLICATION_CREDENTIALS": None,
                                 "GOOGLE_CLOUD_PROJECT": "acme-dev"}))
    env = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert env["PULUMI_BACKEND_URL"] == "file:///b"
    assert env["GOOGLE_CLOUD_PROJECT"] == "acme-dev"
    assert env["PULUMI_AUTOMATION_API"] == "true"
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in env


def test_work_dir_is_removed_after_failure(tmp_path):
    engine, _ = _run_with(tmp_path, 'echo "error: nope" >&2; exit 1\n')
    with pytest.raises(PulumiEngineError):
        engine.run(_request())
    assert not [p for p in os.listdir(tmp_path) if p.startswith("airflow-pulumi-")]


def test_engine_output_lines_stream_to_callback(tmp_path):
    engine, lines = _run_with(tmp_path, """
        case "$*" in
          *"stack select"*) exit 0;;
          *" up "*) echo "Updating (dev):"; echo "    + res creating"; echo "error: stop" >&2; exit 1;;
          *) exit 1;;
        esac
    """)
    with pytest.raises(PulumiEngineError):
        engine.run(_request())
    engine_lines = [line for line in lines if not line.startswith("pulumi: ")]  # our own notes (CLI found, plugins)
    # stdout keeps its order; stderr comes through the same callback on its own thread
    assert [line for line in engine_lines if not line.startswith("error")] == ["Updating (dev):", "    + res creating"]
    assert "error: stop" in engine_lines


def test_engine_warnings_and_errors_reach_the_log_at_their_own_level(tmp_path):
    _fake_cli(tmp_path, """
        case "$*" in
          *"stack select"*) exit 0;;
          *" up "*) echo "Updating (dev):"; echo "Diagnostics:"; echo "  pulumi:pulumi:Stack (proj-dev):"
                    echo "    warning: the bucket has no labels"; echo "    error: quota exceeded"
                    echo "error: update failed" >&2; exit 1;;
          *) exit 1;;
        esac
    """)
    levels: dict[str, list[str]] = {"info": [], "warning": [], "error": []}
    engine = Engine(cli_path=str(tmp_path), work_root=str(tmp_path), on_output=levels["info"].append,
                    on_warning=levels["warning"].append, on_error=levels["error"].append)
    with pytest.raises(PulumiEngineError):
        engine.run(_request())
    assert levels["warning"] == ["    warning: the bucket has no labels"]
    assert sorted(levels["error"]) == ["    error: quota exceeded", "error: update failed"]
    info = [line for line in levels["info"] if not line.startswith("pulumi: ")]  # our own notes (CLI found, plugins)
    assert info == ["Updating (dev):", "Diagnostics:", "  pulumi:pulumi:Stack (proj-dev):"]


def test_without_an_error_sink_engine_errors_go_to_the_warning_sink(tmp_path):
    warned: list[str] = []
    engine = Engine(cli_path=str(tmp_path), on_output=lambda _: None, on_warning=warned.append)
    engine._emit("error: update failed")
    engine._emit("  + res creating")
    assert warned == ["error: update failed"]


def _env_dump(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_stock_pulumi_command_never_sees_none_and_removed_variables_are_blank(tmp_path, monkeypatch):
    from pulumi.automation import PulumiCommand

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/keys/should-not-pass.json")
    dump = tmp_path / "env"
    (tmp_path / "bin").mkdir()
    _fake_cli(tmp_path / "bin", f'env > {dump}; echo "error: stop here" >&2; exit 1\n')
    stock = PulumiCommand(root=str(tmp_path))  # runs `pulumi version` itself: a real, unmodified command
    engine = Engine(pulumi_command=stock, work_root=str(tmp_path), on_output=lambda _: None)
    with pytest.raises(PulumiEngineError, match="stop here"):
        engine.run(_request(env={"PULUMI_BACKEND_URL": "file:///b", "GOOGLE_APPLICATION_CREDENTIALS": None}))
    env = _env_dump(dump)
    assert env["PULUMI_BACKEND_URL"] == "file:///b"
    # The stock command merges os.environ back in: blank is how a removal survives that.
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == ""


def test_update_check_is_skipped_unless_the_worker_chose(tmp_path, monkeypatch):
    monkeypatch.delenv("PULUMI_SKIP_UPDATE_CHECK", raising=False)
    dump = tmp_path / "env"
    engine, _ = _run_with(tmp_path, f'env > {dump}; echo "error: stop here" >&2; exit 1\n')
    with pytest.raises(PulumiEngineError):
        engine.run(_request())
    assert _env_dump(dump)["PULUMI_SKIP_UPDATE_CHECK"] == "true"

    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "false")
    with pytest.raises(PulumiEngineError):
        engine.run(_request())
    assert _env_dump(dump)["PULUMI_SKIP_UPDATE_CHECK"] == "false"


@pytest.mark.parametrize("found", [
    "error: Could not automatically download and install resource plugin 'pulumi-resource-acme' at version v1.2.3, "
    "install the plugin using `pulumi plugin install resource acme v1.2.3`: failed all 5 attempts",
    "error: no resource plugin 'pulumi-resource-acme' found in the workspace at version v1.2.3 or on your $PATH",
])
def test_missing_plugin_is_a_plugin_install_error_with_the_command(tmp_path, found):
    from airflow_pulumi_decorators import PluginInstallError

    # A quoted here-document: the message's backquotes and $PATH stay text.
    engine, _ = _run_with(tmp_path, f"""
        case "$*" in *"stack select"*) exit 0;; esac
        cat >&2 <<'MESSAGE'
{found}
MESSAGE
        exit 1
    """)
    with pytest.raises(PluginInstallError, match=r"needs the resource plugin acme v1\.2\.3") as info:
        engine.run(_request(pulumi_home=str(tmp_path / "home")))
    assert "pulumi plugin install resource acme v1.2.3" in str(info.value)
    assert os.path.realpath(tmp_path / "home" / "plugins") in str(info.value)


# -- a run on the in-process stand-in -------------------------------------------------------------------

def test_a_stop_before_the_run_starts_nothing_and_applies_to_that_run_only(tmp_path):
    ran = []
    engine = Engine(pulumi_command=StandinCommand(), work_root=str(tmp_path), on_output=lambda _: None)
    assert engine.stop() is None
    request = _request(program=lambda: ran.append(1), env={"PULUMI_BACKEND_URL": f"file://{tmp_path}",
                                                           "PULUMI_CONFIG_PASSPHRASE": "p"})
    with pytest.raises(OperationInterruptedError, match="was not started: the task was stopped before the engine ran"):
        engine.run(request)
    assert not ran and not list(tmp_path.glob("airflow-pulumi-*"))
    engine.run(request)  # the next run is not stopped
    assert ran == [1]


def _standin_request(tmp_path, program, **kw):
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": "p"}
    return _request(program=program, env=env, **kw)


def test_the_result_names_the_outputs_the_program_returned(tmp_path):
    engine = Engine(pulumi_command=StandinCommand(), work_root=str(tmp_path), on_output=lambda _: None)
    result = engine.run(_standin_request(tmp_path, lambda: {"b": 1, "a": None}))
    assert result.declared_outputs == ("b", "a")
    assert engine.run(_standin_request(tmp_path, lambda: None)).declared_outputs == ()


def test_the_backend_gets_a_holder_note_only_while_the_run_holds_it(tmp_path):
    notes = tmp_path / ".pulumi" / "airflow-holders" / "proj" / "dev"
    seen = []
    engine = Engine(pulumi_command=StandinCommand(), work_root=str(tmp_path), on_output=lambda _: None)
    engine.run(_standin_request(tmp_path, lambda: seen.extend(notes.glob("*.json")), message="airflow: dag_id=d"))
    assert len(seen) == 1 and not list(notes.glob("*.json"))


def test_the_holder_note_names_each_cli_process_while_it_runs(tmp_path, monkeypatch):
    """Pulumi's lock file names the CLI's pid: the note has it (beside the task's) while that CLI runs (it is
    added right after the spawn; a real CLI takes the lock long after it started)."""
    notes = tmp_path / ".pulumi" / "airflow-holders" / "proj" / "dev"
    seen = tmp_path / "seen.log"
    monkeypatch.setenv("AIRFLOW__PULUMI__PLUGINS", "none")
    engine, _ = _run_with(tmp_path, f"""
        for i in $(seq 100); do grep -q "[ ,]$$[],]" {notes}/*.json && break; sleep 0.05; done
        echo "$$ $(cat {notes}/*.json)" >> {seen}
        echo "error: stop here" >&2
        exit 1
    """)
    with pytest.raises(Exception, match="stop here"):
        engine.run(_request({"PULUMI_BACKEND_URL": f"file://{tmp_path}"}, message="airflow: dag_id=d"))
    pid, note = seen.read_text().splitlines()[0].split(" ", 1)
    assert json.loads(note)["pids"] == [os.getpid(), int(pid)]
    assert json.loads(note)["message"] == "airflow: dag_id=d"
    assert not list(notes.glob("*.json"))
