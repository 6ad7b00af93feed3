"""Parsing and validating the ``pulumi`` connection: every bad value gives an error naming its field."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import airflow_pulumi_decorators
from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.connections import (
    ConnectionExtras,
    PulumiConnection,
    backend_kind,
    connection_extra,
    get_pulumi_connection,
    parse_connection,
    read_connection,
)
from airflow_pulumi_decorators.errors import ConfigurationError

TOKEN = "pul-0123456789abcdef0123456789abcdef01234567"
PASSPHRASE = "conn-passphrase-1f2e3d"


def parse(**fields):
    return parse_connection(conn_id="pulumi_x", **fields)


@pytest.mark.parametrize(
    "url, kind",
    [
        ("file:///var/lib/pulumi", "file"),
        ("file://~", "file"),
        ("file://~/state", "file"),
        ("gs://acme-state/pulumi", "bucket"),
        ("s3://acme-state", "bucket"),
        ("azblob://state-container/prefix", "bucket"),
        ("https://api.pulumi.com", "cloud"),
        ("https://pulumi.internal.example:8443", "cloud"),
        ("http://127.0.0.1:8080", "cloud"),
    ],
)
def test_backend_urls_accepted(url, kind):
    conn = parse(host=url)
    assert conn.backend_url == BackendUrl(url) and backend_kind(url) == kind
    assert conn.backend_url is not None and conn.backend_url.kind == kind and str(conn.backend_url) == url


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("bucket/prefix", "is not a URL"),
        ("file://relative/path", "absolute path"),
        ("gs://", "names no bucket"),
        ("ftp://host/x", "unsupported scheme 'ftp'"),
        ("http://pulumi.example.com", "unencrypted"),
        ("https://", "names no host"),
    ],
)
def test_bad_backend_url_names_the_host_field(url, fragment):
    with pytest.raises(ConfigurationError, match=r"connection 'pulumi_x' field 'host' \(Backend URL\)") as exc:
        parse(host=url)
    assert fragment in str(exc.value)
    assert "gs://bucket" in str(exc.value) or "https://" in str(exc.value)  # says how to fix it


def test_backend_url_may_come_from_an_extra_for_uri_stored_connections():
    assert parse(extra={"backend_url": " gs://b/p "}).backend_url == BackendUrl("gs://b/p")
    with pytest.raises(ConfigurationError, match="extra 'backend_url'"):
        parse(extra={"backend_url": "nope"})
    with pytest.raises(ConfigurationError, match="both field 'host'.*extra 'backend_url'"):
        parse(host="gs://a", extra={"backend_url": "gs://b"})


def test_no_backend_leaves_the_default():
    assert parse().backend_url is None


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("", None),
        ("default", None),
        ("passphrase", "passphrase"),
        ("gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k",
         "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k"),
        ("awskms://alias/pulumi?region=eu-west-1", "awskms://alias/pulumi?region=eu-west-1"),
        ("azurekeyvault://vault.vault.azure.net/keys/pulumi", "azurekeyvault://vault.vault.azure.net/keys/pulumi"),
        ("hashivault://pulumi", "hashivault://pulumi"),
    ],
)
def test_secrets_providers_accepted(value, expected):
    assert parse(host="gs://b", extra={"encryption_provider": value}).secrets_provider == expected


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("vault", "is not a secrets provider"),
        ("gcpkms://", "is not a secrets provider"),
        ("gcpkms://my-key", "is not a Cloud KMS key name"),
        (42, "must be a string"),
    ],
)
def test_bad_secrets_provider_names_the_extra(value, fragment):
    with pytest.raises(ConfigurationError, match="extra 'encryption_provider'") as exc:
        parse(host="gs://b", extra={"encryption_provider": value})
    assert fragment in str(exc.value)


def test_the_old_secrets_provider_extra_is_still_read_with_a_warning_naming_the_new_one():
    deprecated = "extra 'secrets_provider' is deprecated.*Rename it to 'encryption_provider'"
    with pytest.warns(FutureWarning, match=deprecated):
        conn = parse(host="gs://b", extra={"secrets_provider": "passphrase"})
    assert conn.secrets_provider == "passphrase"
    with pytest.warns(FutureWarning), pytest.raises(ConfigurationError, match="extra 'secrets_provider'='vault'"):
        parse(host="gs://b", extra={"secrets_provider": "vault"})  # errors name the extra the admin set


def test_the_new_provider_extra_alone_warns_nothing_and_two_different_values_are_refused(recwarn):
    assert parse(host="gs://b", extra={"encryption_provider": "passphrase"}).secrets_provider == "passphrase"
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]
    with pytest.raises(ConfigurationError, match="both extra 'encryption_provider' and its deprecated name"):
        parse(host="gs://b", extra={"encryption_provider": "passphrase", "secrets_provider": "hashivault://k"})


def test_airflow_shows_the_provider_extra_and_still_hides_the_passphrase():
    """Airflow's own redaction (the UI's connection form and the REST API use it) on our extras' names."""
    from airflow._shared.secrets_masker import redact, should_hide_value_for_key

    from airflow_pulumi_decorators.provider import CONN_FIELDS

    kms = "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k"
    shown = redact({"encryption_provider": kms, "config_passphrase": PASSPHRASE, "secrets_provider": kms})
    assert shown["encryption_provider"] == kms and shown["config_passphrase"] == "***"
    assert shown["secrets_provider"] == "***"  # why the extra was renamed
    hidden = {name for name in CONN_FIELDS if should_hide_value_for_key(name)}
    assert hidden == {"config_passphrase"}
    assert should_hide_value_for_key("extra__pulumi__encryption_provider") is False


def test_passphrase_with_a_kms_provider_is_refused():
    with pytest.raises(ConfigurationError, match="extra 'config_passphrase'.*only used by the passphrase"):
        parse(host="gs://b", extra={"encryption_provider": "awskms://alias/x", "config_passphrase": PASSPHRASE})


@pytest.mark.parametrize("field", ["password", "config_passphrase"])
def test_secret_with_whitespace_is_refused_without_echoing_it(field):
    bad = "pul-abc\n"
    kwargs = {"password": bad} if field == "password" else {"extra": {"config_passphrase": bad}}
    with pytest.raises(ConfigurationError) as exc:
        parse(host="https://api.pulumi.com", **kwargs)
    assert ("field 'password' (Access token)" if field == "password" else "extra 'config_passphrase'") in str(exc.value)
    assert "pul-abc" not in str(exc.value)


def test_organization_is_validated_and_only_for_pulumi_cloud():
    assert parse(host="https://api.pulumi.com", login="acme").organization == "acme"
    with pytest.raises(ConfigurationError, match=r"field 'login' \(Organization\)='ac me'"):
        parse(host="https://api.pulumi.com", login="ac me")
    with pytest.raises(ConfigurationError, match=r"field 'login' \(Organization\) is set.*not Pulumi Cloud"):
        parse(host="gs://b", login="acme")
    with pytest.raises(ConfigurationError, match=r"backend 'gs://b' is not Pulumi Cloud"):  # the URL, not its type
        parse(host="gs://b", login="acme")


def test_unknown_extra_is_refused_listing_the_known_ones():
    # Astronomer's connection took stack config one key at a time from extras; ours refuses it clearly.
    with pytest.raises(
        ConfigurationError, match=r"unknown extra field\(s\) \['gcp:project', 'secret_provider'\]"
    ) as exc:
        parse(host="gs://b", extra={"secret_provider": "passphrase", "gcp:project": "p"})
    assert "encryption_provider" in str(exc.value) and "secret_config" in str(exc.value)


def test_prefixed_extras_are_understood_and_plain_names_win():
    conn = parse(
        host="file:///s",
        extra={"extra__pulumi__config_passphrase": "prefixed-pass", "config_passphrase": PASSPHRASE,
               "extra__pulumi__encryption_provider": "passphrase"},
    )
    assert conn.config_passphrase == PASSPHRASE and conn.secrets_provider == "passphrase"


def test_wrong_connection_type_is_refused():
    with pytest.raises(ConfigurationError, match="has type 'google_cloud_platform'; expected 'pulumi'"):
        parse(conn_type="google_cloud_platform", host="gs://b")


def test_secrets_never_in_repr():
    conn = parse(host="https://api.pulumi.com", password=TOKEN)
    other = parse(host="file:///s", extra={"config_passphrase": PASSPHRASE})
    assert TOKEN not in repr(conn) and PASSPHRASE not in repr(other)
    assert conn.secrets == (TOKEN,) and other.secrets == (PASSPHRASE,)


def test_read_through_airflow_from_an_env_var_json_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_PULUMI_PROD",
        json.dumps({"conn_type": "pulumi", "host": "https://api.pulumi.com", "login": "acme", "password": TOKEN,
                    "extra": {"encryption_provider": "gcpkms://projects/p/locations/eu/keyRings/r/cryptoKeys/k"}}),
    )
    conn = get_pulumi_connection("pulumi_prod")
    assert conn == PulumiConnection(
        conn_id="pulumi_prod", backend_url=BackendUrl("https://api.pulumi.com"), organization="acme",
        access_token=TOKEN,
        secrets_provider="gcpkms://projects/p/locations/eu/keyRings/r/cryptoKeys/k",
    )


def test_missing_connection_names_where_the_id_came_from():
    with pytest.raises(
        ConfigurationError, match=r"'nope' \(from \[pulumi\] default_conn_id\) is not defined.*AIRFLOW_CONN_NOPE"
    ):
        get_pulumi_connection("nope", setting="[pulumi] default_conn_id")


class _Conn:
    def __init__(self, extra):
        self.extra = extra

    @property
    def extra_dejson(self):  # like Airflow's: bad JSON becomes {} (logged), which must never be reached
        try:
            return json.loads(self.extra) if self.extra else {}
        except ValueError:
            return {}


def test_malformed_extra_json_names_the_position_never_the_text():
    from airflow_pulumi_decorators.connections import connection_extras

    with pytest.raises(
        ConfigurationError, match=r"'pulumi_x' field 'extra' is not valid JSON: .* line 2 column 23"
    ) as caught:
        connection_extras(
            _Conn('{"secrets_provider": "passphrase",\n "config_passphrase": hunter2-secret}'), "pulumi_x"
        )
    assert "hunter2-secret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="must be a JSON object"):
        connection_extras(_Conn('["passphrase"]'), "pulumi_x")
    assert connection_extras(_Conn('{"secrets_provider": "passphrase"}'), "pulumi_x") == {
        "secrets_provider": "passphrase"
    }
    assert connection_extras(_Conn(None), "pulumi_x") == {} and connection_extras(_Conn("  "), "pulumi_x") == {}


def test_malformed_extra_fails_at_task_start_instead_of_dropping_every_extra(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_PULUMI_X", json.dumps({"conn_type": "pulumi", "extra": '{"secrets_provider": passphrase}'})
    )
    with pytest.raises(ConfigurationError, match="line 1 column 22"):
        get_pulumi_connection("pulumi_x")


def test_extras_are_read_plain_name_first_then_prefixed_and_empty_is_unset():
    extras = ConnectionExtras(
        {"scope": "", "extra__google_cloud_platform__scope": "s", "project": "plain",
         "extra__google_cloud_platform__project": "prefixed", "extra__google_cloud_platform__key_path": ""},
        "google_cloud_platform",
    )
    assert extras.get("scope") == "s" and extras.get("project") == "plain"
    assert extras.get("key_path") is None and extras.get("absent") is None
    assert connection_extra(extras.values, "scope", "extra__google_cloud_platform__") == "s"
    assert extras.unknown(["scope", "key_path"]) == ["extra__google_cloud_platform__project", "project"]
    assert "prefixed" not in repr(extras)  # extras may hold secrets


def test_read_connection_returns_the_fields_and_checks_type_and_extra(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ANY_CONN",
        json.dumps({"conn_type": "google_cloud_platform", "host": "h", "login": "l", "password": TOKEN,
                    "extra": {"project": "p"}}),
    )
    fields = read_connection("any_conn", missing_hint="create it")
    assert (fields.conn_id, fields.conn_type, fields.host, fields.login, fields.password) == (
        "any_conn", "google_cloud_platform", "h", "l", TOKEN
    )
    assert dict(fields.extra) == {"project": "p"} and TOKEN not in repr(fields)
    with pytest.raises(ConfigurationError, match="'any_conn' has type 'google_cloud_platform'; expected 'pulumi'"):
        read_connection("any_conn", missing_hint="create it", expected_type="pulumi")
    with pytest.raises(ConfigurationError, match=r"'absent' \(from here\) is not defined; create it"):
        read_connection("absent", missing_hint="create it", setting="here")


def test_only_the_connections_module_reads_airflow_connections():
    # One fetch, one extras parser: every other module goes through connections.read_connection.
    package = Path(airflow_pulumi_decorators.__file__).parent
    readers = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if any(
            isinstance(node, ast.Attribute) and node.attr in ("get_connection", "extra_dejson")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert readers == ["connections.py"]
