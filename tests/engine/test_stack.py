"""The run's stack: one call to select or create it, outputs and update summary served from the event stream,
and the SDK's own calls whenever the stream lacks what is needed."""

import json

import pytest
from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.engine import OperationRequest, RunContext
from airflow_pulumi_decorators.engine.events import Observer
from airflow_pulumi_decorators.engine.stack import as_masked, numbers_updates, run_stack, same_shape, workspace_options

BLINDED = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}
PLAIN = {"url": "https://x", "token": "t0k", "conf": {"user": "u", "password": "pw", "ports": [80, 443]}}
MASKED = {"url": "https://x", "token": "[secret]", "conf": {"user": "u", "password": "[secret]", "ports": [80, 443]}}
HISTORY = [{"version": 7, "kind": "update", "startTime": "2026-01-01T00:00:00.000Z", "message": "", "environment": {},
            "config": {}, "result": "succeeded", "resourceChanges": {"create": 2}}]


class Recorder(PulumiCommand):
    """Answers the calls a stack makes after an update, and records them."""

    def __init__(self, outputs: dict = PLAIN, masked: dict = MASKED, select_error: str = "") -> None:
        self.command, self.version = "pulumi", VersionInfo.parse("3.274.1")
        self.outputs, self.masked, self.select_error = outputs, masked, select_error
        self.calls: list[str] = []

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        line = " ".join(args)
        self.calls.append(line)
        out, err, code = "", "", 0
        if line.startswith("stack output"):
            out = json.dumps(self.outputs if "--show-secrets" in args else self.masked)
        elif line.startswith("stack history"):
            out = json.dumps(HISTORY)
        elif line.startswith("stack select --create") and self.select_error:
            err, code = self.select_error, 255
        result = CommandResult(stdout=out, stderr=err, code=code)
        if code:
            raise create_command_error(result)
        return result


def _stack(tmp_path, command, *, operation="up", backend="file:///state", root_outputs=None, summary=None):
    request = OperationRequest(project="proj", stack="dev", program=lambda: None, operation=operation,
                               context=RunContext(backend=BackendUrl(backend) if backend else None))
    observer = Observer(lambda _: None)
    observer.root_outputs = root_outputs
    if summary is not None:
        observer.summary_changes, observer.summary_duration = summary, 3.0
    options = workspace_options(request, str(tmp_path), command)
    return run_stack(request, request.program, observer, options, create=operation in ("up", "preview"))


def test_blinded_secrets_read_as_the_cli_masks_them():
    assert as_masked({"a": BLINDED, "b": [1, BLINDED], "c": "x"}) == {"a": "[secret]", "b": [1, "[secret]"], "c": "x"}


@pytest.mark.parametrize("masked, plain, same", [
    (MASKED, PLAIN, True),
    ({"a": "[secret]"}, {"a": {"deep": [1, 2]}}, True),  # a whole secret hides any shape
    ({"a": 1}, {"a": 1, "b": 2}, False),  # a key the stream did not show
    ({"a": [1]}, {"a": [1, 2]}, False),
    ({"a": "x"}, {"a": "y"}, False),  # a value that differs: not the same outputs
    ({"a": {"b": 1}}, {"a": "b"}, False),
])
def test_the_streamed_outputs_must_match_the_read_ones_but_for_secrets(masked, plain, same):
    assert same_shape(masked, plain) is same


@pytest.mark.parametrize("operation, expected", [
    ("up", "stack select --create --stack dev"), ("preview", "stack select --create --stack dev"),
    ("refresh", "stack select --stack dev"), ("destroy", "stack select --stack dev"),
])
def test_up_or_preview_selects_or_creates_in_one_call_refresh_and_destroy_only_select(tmp_path, operation, expected):
    command = Recorder()
    _stack(tmp_path, command, operation=operation)
    assert command.calls == [expected]


def test_a_stack_created_meanwhile_by_another_run_is_selected(tmp_path):
    command = Recorder(select_error="error: stack 'organization/proj/dev' already exists")
    _stack(tmp_path, command)
    assert command.calls == ["stack select --create --stack dev", "stack select --stack dev"]


def test_outputs_take_one_call_with_secrets_from_the_stream(tmp_path):
    command = Recorder()
    stack = _stack(tmp_path, command, root_outputs={**MASKED, "token": BLINDED,
                                                    "conf": {**MASKED["conf"], "password": BLINDED}})
    outputs = stack.outputs()
    assert command.calls[1:] == ["stack output --json --stack dev --show-secrets"]
    assert {k: (v.value, v.secret) for k, v in outputs.items()} == {
        "url": ("https://x", False), "token": ("t0k", True), "conf": (PLAIN["conf"], False)}
    assert stack.masked_outputs == MASKED  # the nested secret is found from here


@pytest.mark.parametrize("streamed", [None, {"url": "https://x"}, {**MASKED, "url": "https://other"}])
def test_outputs_the_stream_lacks_or_contradicts_are_masked_by_the_cli(tmp_path, streamed):
    command = Recorder()
    stack = _stack(tmp_path, command, root_outputs=streamed)
    outputs = stack.outputs()
    assert command.calls[1:] == ["stack output --json --stack dev --show-secrets", "stack output --json --stack dev"]
    assert outputs["token"].secret and stack.masked_outputs == MASKED


def test_no_registered_outputs_need_no_call(tmp_path):
    command = Recorder()
    assert _stack(tmp_path, command, root_outputs={}).outputs() == {}
    assert command.calls[1:] == []


def test_the_summary_comes_from_the_stream_where_updates_are_not_numbered(tmp_path):
    command = Recorder()
    summary = _stack(tmp_path, command, summary={"create": 2, "same": 1}).info(False)
    assert command.calls[1:] == []
    assert (summary.kind, summary.result, summary.version) == ("update", "succeeded", None)
    assert summary.resource_changes == {"create": 2, "same": 1}
    assert (summary.end_time - summary.start_time).total_seconds() == 3.0


@pytest.mark.parametrize("backend, summary", [("https://api.pulumi.com", {"create": 2}), (None, {"create": 2}),
                                              ("file:///state", None)])
def test_the_summary_comes_from_history_where_numbered_or_not_streamed(tmp_path, backend, summary):
    command = Recorder()
    got = _stack(tmp_path, command, backend=backend, summary=summary).info(False)
    assert command.calls[1:] == ["stack history --json --page-size 1 --page 1 --stack dev"]
    assert got.version == 7


def test_which_backends_number_updates():
    assert numbers_updates(RunContext(backend=BackendUrl("https://api.pulumi.com")))
    assert numbers_updates(RunContext())  # the CLI's own login may be Pulumi Cloud
    assert not numbers_updates(RunContext(backend=BackendUrl("file:///srv/state")))
    assert not numbers_updates(RunContext(backend=BackendUrl("gs://bucket/prefix")))
