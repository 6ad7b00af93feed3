"""Pulumi's errors as ours: pure functions of the request and the error, no engine, no CLI."""

from dataclasses import replace

import pytest
from pulumi.automation import CommandResult
from pulumi.automation import errors as perr

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.engine import OperationRequest, RunContext
from airflow_pulumi_decorators.engine.events import Observer
from airflow_pulumi_decorators.engine.translate import (
    drift_error,
    interrupted,
    lock_error,
    raised_in,
    tail,
    translate,
)
from airflow_pulumi_decorators.errors import (
    BackendAccessError,
    ConcurrentUpdateError,
    ConfigurationError,
    DriftDetectedError,
    OperationInterruptedError,
    OutputValueError,
    PluginInstallError,
    PolicyViolationError,
    ProgramError,
    PulumiCliNotFoundError,
    PulumiEngineError,
    StackNotFoundError,
    StateCorruptError,
    WrongPassphraseError,
)
from airflow_pulumi_decorators.locks import LockHolder
from airflow_pulumi_decorators.operations import OperationOptions


def _request(backend="file:///state", operation="up", **context):
    return OperationRequest(
        project="proj", stack="dev", program=lambda: None, operation=operation,
        context=RunContext(backend=BackendUrl(backend) if backend else None, plugins_dir="/cache/plugins", **context),
        options=OperationOptions(kill_grace_period=30),
    )


def _error(cls, stderr, stdout="Updating (dev):"):
    return cls(CommandResult(stdout=stdout, stderr=stderr, code=1))


APPLY_FAILURE = """
    error: python inline source runtime error: While processing resource: 'second', type: 'pulumi-python:dynamic/apd:Sleep'
    ValueError has risen: While processing input: 'seconds', type <class 'str'>, value <pulumi.output.Output object>
    ValueError has risen: bad value in apply
    Traceback (most recent call last):
      File "/x/pulumi/runtime/rpc.py", line 223, in serialize_properties
        result = await serialize_property(
    ValueError: While processing resource: 'second'
"""

BODY_FAILURE = """
    error: python inline source runtime error: 'region'
    Traceback (most recent call last):
      File "/dags/infra.py", line 9, in storage
        region = cfg["region"]
                 ~~~^^^^^^^^^^
    KeyError: 'region'
"""


@pytest.mark.parametrize(
    ("stderr", "kind", "message", "resource"),
    [
        (APPLY_FAILURE, "ValueError", "bad value in apply", ("second", "pulumi-python:dynamic/apd:Sleep")),
        (BODY_FAILURE, "KeyError", "'region'", None),
    ],
)
def test_program_error_carries_the_programs_exception_and_the_resource(stderr, kind, message, resource):
    error = translate(_request(), _error(perr.InlineSourceRuntimeError, stderr))
    assert isinstance(error, ProgramError)
    assert (error.exception_type, error.exception_message, error.resource) == (kind, message, resource)
    assert f"raised {kind}: {message}" in str(error)
    assert ("in an apply or input of resource" in str(error)) == bool(resource)


def test_program_error_prefers_what_the_program_raised_and_our_output_check_passes_through():
    exc = _error(perr.InlineSourceRuntimeError, BODY_FAILURE)
    error = translate(_request(), exc, raised=LookupError("no such key"))
    assert (error.exception_type, error.exception_message) == ("LookupError", "no such key")
    ours = OutputValueError("output 'x' is not JSON", key="x")
    assert translate(_request(), exc, raised=ours) is ours


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("error: python inline source runtime error: boom", ("", "boom")),
        ("    Traceback (most recent call last):\n      File 'x'\n    botocore.exceptions.ClientError: denied",
         ("botocore.exceptions.ClientError", "denied")),
        ("one\ntwo", ("", "one\ntwo")),
    ],
)
def test_what_the_program_raised_is_read_from_pulumis_report(text, found):
    assert raised_in(text) == found


@pytest.mark.parametrize(
    ("stderr", "source", "error_type", "words"),
    [
        ("error: failed to decrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct "
         "passphrase", "the worker's PULUMI_CONFIG_PASSPHRASE", WrongPassphraseError,
         "the passphrase from the worker's PULUMI_CONFIG_PASSPHRASE is not"),
        ("error: incorrect passphrase", "the worker's PULUMI_CONFIG_PASSPHRASE", WrongPassphraseError,
         "cannot decrypt its secrets"),
        ("error: failed to load checkpoint: place 1: unexpected end of JSON input", None, StateCorruptError,
         "its checkpoint file /state/.pulumi/stacks/proj/dev.json is not valid JSON"),
        ("error: failed to load checkpoint: place 1: invalid character 'g' looking for beginning of value", None,
         StateCorruptError, "/state/.pulumi/backups/proj/dev/"),
        ('error: unable to open state directory "file:///state": stat /state: not a directory', None,
         BackendAccessError, "the state backend file:///state cannot be opened or written"),
        ('error: unable to open state directory "file:///state": mkdir /state/.pulumi: permission denied', None,
         BackendAccessError, "fix the folder's"),
        ("error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE", None,
         ConfigurationError, "set PULUMI_CONFIG_PASSPHRASE"),
        ("error: boom", None, PulumiEngineError, "pulumi up failed on stack 'dev':"),
    ],
)
def test_state_and_secrets_faults_are_typed_errors_with_the_fix(stderr, source, error_type, words):
    context = {"passphrase_source": source} if source else {}
    error = translate(_request(**context), _error(perr.CommandError, stderr))
    assert type(error) is error_type
    assert words in str(error)


def test_corrupt_state_elsewhere_than_a_folder_names_the_backend():
    error = translate(_request("gs://acme"), _error(perr.CommandError, "error: failed to load checkpoint: x"))
    assert isinstance(error, StateCorruptError) and error.path is None
    assert "its checkpoint in backend gs://acme is not valid JSON" in str(error)


def test_a_missing_stack_names_the_backend_or_the_clis_default():
    error = translate(_request(), _error(perr.StackNotFoundError, "error: no stack named 'dev' found"))
    assert isinstance(error, StackNotFoundError) and "does not exist in backend file:///state" in str(error)
    error = translate(_request(None), _error(perr.StackNotFoundError, "error: no stack named 'dev' found"))
    assert "does not exist in backend (the CLI's default)" in str(error)


def test_a_missing_plugin_names_the_runs_plugin_folder():
    text = "error: no resource plugin 'pulumi-resource-acme' found in the workspace at version v1.2.3 or on your $PATH"
    error = translate(_request(), _error(perr.CommandError, text))
    assert isinstance(error, PluginInstallError)
    assert "not installed in /cache/plugins" in str(error) and "plugin install resource acme v1.2.3" in str(error)


def test_a_lock_conflict_keeps_pulumis_words():
    text = "error: the stack is currently locked by 1 lock(s)"
    error = translate(_request(), _error(perr.ConcurrentUpdateError, text))
    assert isinstance(error, ConcurrentUpdateError) and str(error).endswith(text)


def test_a_failed_cli_call_after_a_stop_is_the_interruption():
    error = translate(_request(), _error(perr.CommandError, "error: update canceled"), stopped=True)
    assert isinstance(error, OperationInterruptedError) and "was interrupted" in str(error)


def test_mandatory_policy_violations_refuse_the_operation():
    observer = Observer(lambda _: None)
    observer.violations = [
        {"policy_pack": "p", "policy": "no-public", "level": "mandatory", "urn": "urn::b", "message": "public"},
        {"policy_pack": "p", "policy": "labels", "level": "advisory", "urn": "", "message": "label it"},
    ]
    error = translate(_request(), _error(perr.CommandError, "error: preview failed"), observer=observer)
    assert isinstance(error, PolicyViolationError) and len(error.violations) == 1
    assert "[mandatory] p/no-public: public (b)" in str(error)


def test_expect_no_changes_failing_is_drift_with_the_steps():
    observer = Observer(lambda _: None)
    observer.steps = [{"op": "update", "urn": "urn::b", "type": "gcp:storage:Bucket", "name": "b"}]
    observer.summary_changes = {"update": 1, "same": 3}
    error = translate(_request(operation="preview"), _error(perr.CommandError, "error: no changes were expected"),
                      observer=observer)
    assert isinstance(error, DriftDetectedError) and error.changes == {"update": 1, "same": 3}
    assert "preview expected no changes but found update=1:\n  update gcp:storage:Bucket b" in str(error)


def test_no_drift_without_changes():
    assert drift_error(_request(), {"same": 4, "read": 1}, []) is None


def test_cli_that_cannot_start_and_foreign_errors():
    assert isinstance(translate(_request(), FileNotFoundError("pulumi")), PulumiCliNotFoundError)
    assert translate(_request(), ValueError("ours")) is None


def test_a_lock_held_after_waiting_says_who_and_what_to_do():
    holder = LockHolder(user="bob", host="elsewhere", pid=7)
    error = lock_error(_request(), _error(perr.ConcurrentUpdateError, "locked"), holder, 3, 42.0)
    assert "locked by another update after 3 attempts over 42s: held by bob@elsewhere (pid 7)" in str(error)
    assert "lock_wait=" in str(error) and error.holder is holder


@pytest.mark.parametrize(
    ("backend", "stack", "command"),
    [
        ("file:///state", "dev", "PULUMI_BACKEND_URL=file:///state pulumi cancel --yes --stack organization/proj/dev"),
        ("gs://b/p", "organization/proj/dev", "PULUMI_BACKEND_URL=gs://b/p pulumi cancel --yes --stack organization/proj/dev"),
        ("https://api.pulumi.com", "acme/proj/dev", "PULUMI_BACKEND_URL=https://api.pulumi.com pulumi cancel --yes --stack acme/proj/dev"),
    ],
)
def test_a_stale_lock_gives_the_cancel_command_that_works_for_an_inline_program(backend, stack, command):
    """An inline program has no Pulumi.yaml: the CLI needs the backend and the fully qualified stack."""
    holder = LockHolder(user="bob", host="gone", pid=7, ended="Airflow says that task instance is failed, no longer running")
    request = replace(_request(backend), stack=stack)
    error = str(lock_error(request, _error(perr.ConcurrentUpdateError, "locked"), holder, 1, 0.0))
    assert f"run `{command}`" in error and "cancel_stale_lock=True" in error
    assert "that task instance is failed, no longer running, so the lock is stale" in error
    assert "Wait for it" not in error


@pytest.mark.parametrize(
    ("outcome", "words"),
    [("graceful", "stopped gracefully"), ("abandoned", "gave up on it"),
     ("killed", "kill_grace_period=30s and was killed")],
)
def test_an_interruption_says_what_state_it_left(outcome, words):
    error = interrupted(_request(), outcome, RuntimeError("stopped"))
    assert error.outcome == outcome and words in str(error)


class _Failed(Exception):
    def __init__(self, stderr="", stdout=""):
        super().__init__("failed")
        self.stderr, self.stdout = stderr, stdout


def test_tail_prefers_stderr_then_stdout_then_the_exception():
    assert tail(_Failed("a\nb\nc"), 2) == "b\nc"
    assert tail(_Failed(stdout="out")) == "out"
    assert tail(_error(perr.CommandError, "x\ny"), 1) == "y"


#: What the real CLI 3.274.1 printed on stderr for a checkpoint with a wrong magic cookie (shortened trace).
REFUSED_SNAPSHOT = """error: The Pulumi CLI encountered a snapshot integrity error. This is a bug!

You can try to repair your snapshot as follows:
* Using the `pulumi state repair` command. This is the recommended approach.
================================================================================
Pulumi Version:    v3.274.1
Error:             snapshot integrity failure; refusing to use it: magic cookie mismatch; possible tampering/corruption detected

Stack Trace:

goroutine 1 [running]:
runtime/debug.Stack()
\truntime/debug/stack.go:26 +0x5e
main.main()
\tgithub.com/pulumi/pulumi/pkg/v3@v3.274.1/cmd/pulumi/main.go:67 +0x6d
""" + "\tgithub.com/spf13/cobra@v1.10.2/command.go:1015 +0xb14\n" * 30


def test_a_refused_snapshot_is_a_state_error_with_its_reason_and_fix_not_a_go_trace():
    error = translate(_request(), _error(perr.CommandError, REFUSED_SNAPSHOT))
    assert isinstance(error, StateCorruptError)
    assert error.path == "/state/.pulumi/stacks/proj/dev.json"
    text = str(error)
    assert "fails the Pulumi CLI's integrity check (magic cookie mismatch" in text
    assert "rewrites the state in the CLI's format" in text and "hex SHA-256 of manifest.version" in text
    assert "This is a bug" not in text and "goroutine" not in text


def test_a_snapshot_refused_for_its_resources_points_at_state_repair():
    stderr = ("error: snapshot integrity failure; refusing to use it: child resource urn:a refers to missing "
              "parent urn:b")
    error = translate(_request(), _error(perr.CommandError, stderr))
    assert isinstance(error, StateCorruptError)
    assert "(child resource urn:a refers to missing parent urn:b)" in str(error)
    assert "`pulumi state repair --stack organization/proj/dev`" in str(error)
