"""Identities from Airflow ``google_cloud_platform`` connections (no Google provider needed)."""

from __future__ import annotations

import json

import pytest

from airflow_pulumi_decorators.errors import ConfigurationError
from airflow_pulumi_decorators.identity import (
    ApplicationDefault,
    FromConnection,
    ServiceAccountImpersonation,
    WorkloadIdentityFederation,
    identity_from_connection,
    identity_from_extras,
    obtain_engine_credentials,
)

from .conftest import CLOUD, DELEGATE, IAM, SA

PREFIX = "extra__google_cloud_platform__"


def _set_conn(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict, conn_type: str = "google_cloud_platform"
) -> None:
    from airflow.sdk import Connection

    conn = Connection(conn_id=conn_id, conn_type=conn_type, extra=json.dumps(extra))
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn.as_json())


@pytest.mark.parametrize("prefix", ["", PREFIX])
def test_federation_with_impersonation_chain_and_scopes(fake, subject_file, prefix: str) -> None:  # noqa: ANN001
    config = fake.external_account_config(subject_token_file=subject_file)
    extras = {
        prefix + "credential_config_file": json.dumps(config),
        prefix + "impersonation_chain": f"{DELEGATE}, {SA}",
        prefix + "scope": f"{CLOUD},{IAM}",
        prefix + "project": "acme-prod",
    }
    identity, project = identity_from_extras(extras, conn_id="gcp")
    assert project == "acme-prod"
    assert isinstance(identity, ServiceAccountImpersonation)
    assert (identity.target_principal, identity.delegates, identity.scopes) == (SA, (DELEGATE,), (CLOUD, IAM))
    assert isinstance(identity.source, WorkloadIdentityFederation)
    assert identity.source.load_config() == config


def test_plain_name_wins_over_prefixed() -> None:
    identity, project = identity_from_extras(
        {"project": "plain", PREFIX + "project": "prefixed", PREFIX + "scope": IAM}
    )
    assert project == "plain" and identity.scopes == (IAM,)  # type: ignore[attr-defined]


def test_config_as_path_or_object_and_default_adc(fake, tmp_path) -> None:  # noqa: ANN001
    identity, _ = identity_from_extras({"credential_config_file": str(tmp_path / "wif.json")})
    assert isinstance(identity, WorkloadIdentityFederation) and identity.credential_config_file
    identity, _ = identity_from_extras({"credential_config_file": fake.external_account_config(subject_token_url=True)})
    assert isinstance(identity, WorkloadIdentityFederation) and identity.credential_config
    identity, project = identity_from_extras({"quota_project_id": "billing"})
    assert identity == ApplicationDefault(quota_project_id="billing") and project is None


@pytest.mark.parametrize(
    "key", ["key_path", "keyfile_dict", PREFIX + "key_path", PREFIX + "keyfile_dict", "key_secret_name"]
)
def test_key_files_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match="keyless identities only") as caught:
        identity_from_extras({key: "/secrets/key.json"}, conn_id="legacy")
    assert "'legacy'" in str(caught.value)


def test_bad_values_name_the_connection_and_extra(fake) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError, match="connection 'c'.*'credential_config_file'"):
        identity_from_extras({"credential_config_file": '{"type": "service_account"}'}, conn_id="c")
    with pytest.raises(ConfigurationError, match="connection 'c'.*'impersonation_chain'"):
        identity_from_extras({"impersonation_chain": "someone@example.com"}, conn_id="c")
    with pytest.raises(ConfigurationError, match="'scope'"):
        identity_from_extras({"scope": "cloud-platform"}, conn_id="c")


def test_lazy_connection_resolved_from_env_var(fake, subject_file, monkeypatch, masked) -> None:  # noqa: ANN001
    config = fake.external_account_config(subject_token_file=subject_file)
    _set_conn(monkeypatch, "gcp_wif", {PREFIX + "credential_config_file": config, "project": "acme-prod"})
    identity = identity_from_connection("gcp_wif")
    assert identity == FromConnection("gcp_wif") and "gcp_wif" in identity.describe()
    with obtain_engine_credentials(identity, mask=masked.append) as creds:
        assert creds.env["GOOGLE_CLOUD_PROJECT"] == "acme-prod"  # the connection's project
        assert "federated principal" in creds.principal
    with obtain_engine_credentials(identity, project="override", mask=masked.append) as creds:
        assert creds.env["GOOGLE_CLOUD_PROJECT"] == "override"


def test_unknown_connection_names_the_conn_id(masked) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError, match="'no_such_conn' is not defined"):
        obtain_engine_credentials(identity_from_connection("no_such_conn"), mask=masked.append)


def test_wrong_connection_type(monkeypatch) -> None:  # noqa: ANN001
    _set_conn(monkeypatch, "pg", {}, conn_type="postgres")
    with pytest.raises(ConfigurationError, match="expected 'google_cloud_platform'"):
        FromConnection("pg").resolve()


def test_key_file_connection_refused_at_task_start(monkeypatch) -> None:  # noqa: ANN001
    _set_conn(monkeypatch, "legacy", {"key_path": "/secrets/sa.json"})
    identity = identity_from_connection("legacy")  # nothing read at parse time
    with pytest.raises(ConfigurationError, match="keyless"):
        identity.resolve()


def test_empty_conn_id_refused() -> None:
    with pytest.raises(ConfigurationError, match="conn_id"):
        identity_from_connection(" ")


def test_iam_endpoint_extra_reaches_the_impersonation() -> None:
    from airflow_pulumi_decorators.identity.connection import identity_from_extras

    resolved = identity_from_extras(
        {
            "impersonation_chain": "deployer@acme-prod.iam.gserviceaccount.com",
            "iam_endpoint": "https://iamcredentials-acme.p.googleapis.com",
        },
        conn_id="gcp_psc",
    )
    assert resolved.identity.generate_access_token_url.startswith(
        "https://iamcredentials-acme.p.googleapis.com/v1/projects/-/serviceAccounts/deployer@"
    )


def test_each_identity_kind_can_be_built_from_a_connection(fake, subject_file, monkeypatch) -> None:  # noqa: ANN001
    from airflow_pulumi_decorators.identity import GkeMetadataServer

    config = fake.external_account_config(subject_token_file=subject_file)
    _set_conn(monkeypatch, "gcp_wif", {"credential_config_file": config})
    _set_conn(monkeypatch, "gcp_chain", {"credential_config_file": config, "impersonation_chain": [DELEGATE, SA]})
    _set_conn(monkeypatch, "gcp_node", {"project": "acme-dev"})
    _set_conn(monkeypatch, "gcp_node_chain", {"impersonation_chain": SA})

    assert isinstance(WorkloadIdentityFederation.from_connection("gcp_wif").resolve(), WorkloadIdentityFederation)
    wrapped = WorkloadIdentityFederation.from_connection("gcp_chain").resolve()
    assert isinstance(wrapped, ServiceAccountImpersonation) and isinstance(wrapped.source, WorkloadIdentityFederation)
    chain = ServiceAccountImpersonation.from_connection("gcp_chain").resolve()
    assert chain.target_principal == SA and chain.delegates == (DELEGATE,)

    node = GkeMetadataServer.from_connection("gcp_node")
    assert isinstance(node.resolve(), GkeMetadataServer)
    assert node.resolve_with_project().project == "acme-dev"
    over_node = GkeMetadataServer.from_connection("gcp_node_chain").resolve()
    assert isinstance(over_node, ServiceAccountImpersonation) and isinstance(over_node.source, GkeMetadataServer)
    assert isinstance(ApplicationDefault.from_connection("gcp_node").resolve(), ApplicationDefault)


def test_connection_of_another_kind_is_refused_naming_it(fake, subject_file, monkeypatch) -> None:  # noqa: ANN001
    _set_conn(monkeypatch, "gcp_node", {})
    with pytest.raises(ConfigurationError, match=r"'gcp_node' describes .*not a WorkloadIdentityFederation"):
        WorkloadIdentityFederation.from_connection("gcp_node").resolve()
    with pytest.raises(ConfigurationError, match="not a ServiceAccountImpersonation"):
        ServiceAccountImpersonation.from_connection("gcp_node").resolve()


def test_malformed_extra_is_refused_not_read_as_empty(monkeypatch) -> None:  # noqa: ANN001
    import json as _json

    from airflow_pulumi_decorators.identity.connection import resolve_connection

    monkeypatch.setenv(
        "AIRFLOW_CONN_GCP_BAD", _json.dumps({"conn_type": "google_cloud_platform", "extra": "{'project': 'acme'}"})
    )
    with pytest.raises(ConfigurationError, match="'gcp_bad' field 'extra' is not valid JSON: .* line 1 column 2"):
        resolve_connection("gcp_bad")  # not ApplicationDefault, as an empty extra would have meant


def test_refreshable_is_checked_once_the_connection_is_read(fake, subject_file, monkeypatch) -> None:  # noqa: ANN001
    config = fake.external_account_config(subject_token_file=subject_file)
    _set_conn(monkeypatch, "gcp_chain", {"credential_config_file": config, "impersonation_chain": [DELEGATE, SA]})
    lazy = identity_from_connection("gcp_chain")
    lazy.check_refreshable(read_files=False)  # parse time: nothing read yet
    ServiceAccountImpersonation(SA, source=lazy).check_refreshable(read_files=False)
    with pytest.raises(ConfigurationError, match="cannot express delegates"):
        lazy.refreshable_env()  # task start: the connection's chain has a delegate
    _set_conn(monkeypatch, "gcp_wif", {"credential_config_file": config})
    assert identity_from_connection("gcp_wif").refreshable_env().credential_config == config
