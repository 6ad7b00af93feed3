"""Resolving a reference to a secret output in the reading task: the value, masked first; and each way it
fails, with its typed error naming the cause and the fix. On every engine (the ``engine`` fixture): a stack is
deployed with the engine directly, then resolved as a consumer would."""

from __future__ import annotations

import os

import pytest

from airflow_pulumi_decorators import (
    SecretOutputAccessError,
    SecretOutputNotFoundError,
    SecretOutputNotSecretError,
    SecretOutputWithheldError,
    SecretReferenceError,
    resolve_secret_output,
)
from airflow_pulumi_decorators.engine import Engine, OperationRequest, RunContext
from airflow_pulumi_decorators.outputs import REF_MARKER, SecretOutputRef
from airflow_pulumi_decorators.secret_outputs import resolve_references

TOKEN = "tok-5f1e9a77c2"
NESTED = "nested-pw-0b3d"


def _secret_program():
    import pulumi

    return {"token": pulumi.Output.secret(TOKEN),
            "db": {"host": "db.internal", "password": pulumi.Output.secret(NESTED)},
            "plain": "visible"}


def _plain_program():
    return {"token": "not-secret-any-more", "plain": "visible"}


def _deploy(engine, program, *, stack: str = "dev", project: str = "refs", **kw) -> None:
    request = OperationRequest(project=project, stack=stack, program=program, context=RunContext.from_env({}), **kw)
    Engine(cli_path=engine.cli, pulumi_command=engine.command, on_output=lambda _: None).run(request)


def _ref(key: str = "token", *, stack: str = "dev", backend: str | None = None) -> dict:
    return SecretOutputRef(project="refs", stack=stack, key=key, backend=backend or os.environ["PULUMI_BACKEND_URL"],
                           environment="dev", dag_id="d", task_id="infra").to_xcom()


@pytest.fixture
def resolve(engine, backend, airflow_home):
    """Resolve as a consumer on this engine would, recording what is masked (in order) next to the result."""
    masked: list[str] = []

    def run(ref, **kw):
        value = resolve_secret_output(ref, cli_path=engine.cli, pulumi_command=engine.command, mask=masked.append,
                                      **kw)
        return value, masked

    return run


def test_a_reference_resolves_to_the_value_after_its_secret_parts_are_masked(engine, resolve):
    _deploy(engine, _secret_program)
    value, masked = resolve(_ref())
    assert value == TOKEN and TOKEN in masked
    value, masked = resolve(_ref("db"))
    assert value == {"host": "db.internal", "password": NESTED}
    assert NESTED in masked  # the secret part; Pulumi may make the whole dict secret (the host masked too)


def test_references_anywhere_in_a_value_are_resolved_with_one_read_per_stack(engine, backend, airflow_home):
    _deploy(engine, _secret_program)
    reads = []
    real_outputs = Engine.outputs

    def counting(self, *args, **kwargs):
        reads.append(args)
        return real_outputs(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "outputs", counting)
        value = resolve_references({"a": _ref(), "b": [_ref("db"), "x"], "c": 1}, cli_path=engine.cli,
                                   pulumi_command=engine.command, mask=lambda _: None)
    assert value == {"a": TOKEN, "b": [{"host": "db.internal", "password": NESTED}, "x"], "c": 1}
    assert len(reads) == 1


def test_an_output_the_stack_no_longer_has_is_not_found_naming_the_producer(engine, resolve):
    _deploy(engine, _secret_program)
    with pytest.raises(SecretOutputNotFoundError, match=r"no output 'gone' now \(its outputs: db, plain, token\)"
                       r".*Re-run task 'infra' of DAG 'd'"):
        resolve(_ref("gone"))


def test_a_stack_that_no_longer_exists_is_not_found(engine, resolve):
    with pytest.raises(SecretOutputNotFoundError, match=r"stack no longer exists.*Re-run task 'infra'") as caught:
        resolve(_ref(stack="removed"))
    assert "'removed'" in caught.value.reference


def test_a_consumer_with_another_passphrase_cannot_decrypt(engine, resolve, monkeypatch):
    _deploy(engine, _secret_program)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "not-the-stacks-passphrase")
    with pytest.raises(SecretOutputAccessError, match=r"cannot be (decrypted|read) by this task.*passphrase"):
        resolve(_ref())


def test_a_consumer_without_the_passphrase_cannot_decrypt(engine, resolve, monkeypatch):
    _deploy(engine, _secret_program)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    with pytest.raises(SecretOutputAccessError, match=r"PULUMI_CONFIG_PASSPHRASE"):
        resolve(_ref())


def test_a_consumer_without_the_producers_connection_is_told_to_add_it(engine, resolve):
    ref = dict(_ref(), pulumi_conn_id="pulumi_nowhere")
    with pytest.raises(SecretOutputAccessError, match=r"'pulumi_nowhere'.*must exist for this task"):
        resolve(ref)


def test_an_output_that_is_no_longer_secret_is_refused(engine, resolve):
    _deploy(engine, _secret_program)
    _deploy(engine, _plain_program)  # the program changed after the reference was pushed
    with pytest.raises(SecretOutputNotSecretError, match=r"not secret in the stack's state any more"):
        resolve(_ref())


@pytest.mark.parametrize("engine", ["standin"], indirect=True)
@pytest.mark.parametrize("bad, message", [
    ({REF_MARKER: 2, "project": "p", "stack": "s", "key": "k"}, r"reads version 1"),
    ({REF_MARKER: 1, "project": "p", "stack": "s"}, r"key=None, not a string"),
    ({REF_MARKER: 1, "project": "p", "stack": ["s"], "key": "k"}, r"stack=\['s'\], not a string"),
])
def test_a_value_marked_as_a_reference_that_is_not_one_is_refused(resolve, bad, message):
    with pytest.raises(SecretReferenceError, match=message):
        resolve(bad)


@pytest.mark.parametrize("engine", ["standin"], indirect=True)
def test_the_producers_connection_identity_gives_the_reader_its_own_short_lived_credential(
    engine, resolve, backend, fake, subject_file, monkeypatch
):
    """An environment whose identity is a ``google_cloud_platform`` connection: the reference names the
    connection (never a token), and the reader obtains its own token from it for the engine's read."""
    import json

    from airflow_pulumi_decorators.testing.dagrun import StateDir

    monkeypatch.setenv("AIRFLOW_CONN_GCP_WIF", json.dumps({
        "conn_type": "google_cloud_platform",
        "extra": {"credential_config_file": json.dumps(fake.external_account_config(subject_token_file=subject_file)),
                  "project": "acme-dev"}}))
    _deploy(engine, _secret_program)
    ref = dict(_ref(), identity_conn_id="gcp_wif")
    before = len(StateDir(backend).journal())
    value, masked = resolve(ref)
    assert value == TOKEN
    [token] = fake.issued_tokens()
    assert token in masked  # the reader's own token, masked like the producer's
    reads = StateDir(backend).journal()[before:]
    assert reads and all("GOOGLE_OAUTH_ACCESS_TOKEN" in r["env_names"] for r in reads if "output" in r["argv"])


def test_a_task_records_only_a_connection_identity_in_its_references():
    from airflow_pulumi_decorators import publish
    from airflow_pulumi_decorators.backend_url import BackendUrl
    from airflow_pulumi_decorators.engine import OperationResult
    from airflow_pulumi_decorators.identity import GkeMetadataServer, identity_from_connection
    from airflow_pulumi_decorators.outputs import StackOutput

    request = OperationRequest(project="refs", stack="dev", program=dict,
                               context=RunContext(backend=BackendUrl("gs://b"), plugins_dir="/p"))
    result = OperationResult(operation="up", stack="dev", outputs={"t": StackOutput("tok-1234567", secret=True)},
                             changes={}, version=None, duration_s=0.1)

    def pushed(identity):
        value = publish.task_value(request, result, context={}, push_secret_outputs=False, emit_asset=False,
                                   log=__import__("logging").getLogger("t"), mask=lambda _: None,
                                   secret_outputs="reference", identity=identity)
        return value["t"]["identity_conn_id"], value["t"]["identity_kind"]

    assert pushed(identity_from_connection("gcp_prod")) == ("gcp_prod", None)
    assert pushed(GkeMetadataServer.from_connection("gcp_gke")) == ("gcp_gke", "GkeMetadataServer")
    assert pushed(GkeMetadataServer()) == (None, None)
    assert pushed(None) == (None, None)


def test_the_reader_gets_user_info_and_query_back_from_its_own_configuration_of_the_same_backend(monkeypatch):
    from airflow_pulumi_decorators.secret_outputs import _backend_url

    ref = SecretOutputRef(project="p", stack="dev", key="k", backend="s3://state/prefix")
    full = "s3://state/prefix?region=eu-west-1&awssdk=v2"
    assert _backend_url(ref, {"PULUMI_BACKEND_URL": full}) == full
    assert _backend_url(ref, {"PULUMI_BACKEND_URL": "s3://other/prefix?region=x"}) == "s3://state/prefix"
    assert _backend_url(SecretOutputRef(project="p", stack="dev", key="k"), {"PULUMI_BACKEND_URL": full}) is None


def test_a_withheld_output_is_refused_by_both_helpers_naming_the_fix():
    from airflow_pulumi_decorators.outputs import withheld_output

    marker = withheld_output("refs", "dev", "token")
    for helper in (resolve_secret_output, resolve_references):
        with pytest.raises(SecretOutputWithheldError, match=r"'token' of stack refs/dev.*secret_outputs=\"reference\""):
            helper(marker)
