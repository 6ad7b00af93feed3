import pytest

from airflow_pulumi_decorators import ConfigurationError, Environment, UnknownEnvironmentError
from airflow_pulumi_decorators.environments import (
    config_value_to_str,
    resolve_environment,
    validate_environments,
    validate_stack_name,
)

ENVS = {
    "dev": Environment(stack="dev", config={"gcp:project": "acme-dev"}),
    "prod": Environment(stack="prod", config={"gcp:project": "acme-prod"}, protected=True),
}


def test_environment_freezes_and_stringifies_config():
    env = Environment(stack="dev", config={"a:n": 3, "a:flag": True, "a:obj": {"k": [1]}})
    assert dict(env.config) == {"a:n": "3", "a:flag": "true", "a:obj": '{"k": [1]}'}
    with pytest.raises(TypeError):
        env.config["x"] = "y"  # type: ignore[index]


def test_secret_config_is_hidden_from_repr():
    env = Environment(stack="dev", secret_config={"db:password": "hunter2-secret"})
    assert "hunter2-secret" not in repr(env)


@pytest.mark.parametrize("stack", ["dev", "acme/dev", "acme/infra/dev", "dev-1.x_y", "{{ params.env }}"])
def test_valid_stack_names_pass(stack):
    assert validate_stack_name(stack) == stack


@pytest.mark.parametrize("stack", ["", "a b", "a/b/c/d", "dév"])
def test_invalid_stack_names_name_the_parameter(stack):
    with pytest.raises(ConfigurationError, match="stack"):
        Environment(stack=stack)


def test_key_in_both_config_and_secret_config_is_refused():
    with pytest.raises(ConfigurationError, match="db:password"):
        Environment(stack="dev", config={"db:password": "a"}, secret_config={"db:password": "b"})


def test_bad_credential_mode_is_refused():
    with pytest.raises(ConfigurationError, match="credential_mode"):
        Environment(stack="dev", credential_mode="forever")


def test_identity_must_be_an_identity_object():
    with pytest.raises(ConfigurationError, match="identity"):
        Environment(stack="dev", identity="my-service-account@x.iam.gserviceaccount.com")


def test_unsupported_config_value_type_names_the_key():
    with pytest.raises(ConfigurationError, match="'a:b'"):
        config_value_to_str("a:b", object())


def test_two_environments_on_one_stack_are_refused():
    with pytest.raises(ConfigurationError, match="both use stack 'prod'"):
        validate_environments({"staging": Environment(stack="prod"), "prod": Environment(stack="prod")})


def test_same_stack_name_on_different_backends_is_allowed():
    envs = validate_environments(
        {
            "staging": Environment(stack="main", backend_url="file:///tmp/staging"),
            "prod": Environment(stack="main", backend_url="file:///tmp/prod"),
        }
    )
    assert set(envs) == {"staging", "prod"}


def test_resolve_picks_the_named_environment():
    name, env = resolve_environment(environments=ENVS, environment="prod", stack=None)
    assert name == "prod" and env.stack == "prod" and env.protected


def test_resolve_unknown_environment_lists_known_ones():
    with pytest.raises(UnknownEnvironmentError) as info:
        resolve_environment(environments=ENVS, environment="qa", stack=None)
    assert "'qa'" in str(info.value) and "dev, prod" in str(info.value)


def test_resolve_stack_override_keeps_environment_config():
    _, env = resolve_environment(environments=ENVS, environment="dev", stack="dev-pr-42")
    assert env.stack == "dev-pr-42" and env.config["gcp:project"] == "acme-dev"


def test_resolve_without_environments_uses_plain_stack():
    name, env = resolve_environment(environments=None, environment=None, stack="sandbox")
    assert (name, env.stack) == ("sandbox", "sandbox")


def test_resolve_single_environment_needs_no_name():
    name, _ = resolve_environment(environments={"dev": ENVS["dev"]}, environment=None, stack=None)
    assert name == "dev"


def test_gcp_project_defaults_to_config():
    assert ENVS["dev"].gcp_project == "acme-dev"
    assert (
        Environment(stack="x", project_id="other-project", config={"gcp:project": "a"}).gcp_project == "other-project"
    )


@pytest.mark.parametrize("project_id", ["acme-dev", "a23456", "example.com:acme-prod", "p" * 30])
def test_valid_project_ids_pass(project_id):
    assert Environment(stack="x", project_id=project_id).gcp_project == project_id


@pytest.mark.parametrize(
    "project_id", [123456789012, True, "acme", "Acme-Dev", "acme_dev", "1acme-dev", "acme-dev-", "p" * 31]
)
def test_invalid_project_ids_are_refused_naming_the_parameter(project_id):
    with pytest.raises(ConfigurationError, match=r"Environment\(project_id="):
        Environment(stack="x", project_id=project_id)


@pytest.mark.parametrize(
    "url",
    [
        "file:///srv/state",
        "file://~/state",
        "gs://b/p",
        "s3://b",
        "azblob://c",
        "https://api.pulumi.com",
        "http://127.0.0.1:8080",
    ],
)
def test_valid_backend_urls_pass_at_parse_time(url):
    assert Environment(stack="x", backend_url=url).backend_url == url


def test_templated_config_values_are_kept_until_rendered():
    env = Environment(stack="x", config={"a:r": "{{ params.r }}", "a:n": 1}, secret_config={"a:w": "{{ var.value.w }}"})
    assert env.config_templates == ["a:r", "a:w"]
    seen = []
    rendered = env.render_config(lambda field, key, template: seen.append((field, key, template)) or 7)
    assert seen == [("config", "a:r", "{{ params.r }}"), ("secret_config", "a:w", "{{ var.value.w }}")]
    assert dict(rendered.config) == {"a:r": "7", "a:n": "1"} and dict(rendered.secret_config) == {"a:w": "7"}
    assert rendered.config_templates == [] and rendered.render_config(lambda *_: 1 / 0) is rendered


def test_rendered_stack_names_are_checked_with_pulumis_reason():
    with pytest.raises(ConfigurationError, match="invalid character ' ' at position 2.*stack_name filter"):
        resolve_environment(environments=None, environment=None, stack="pr 12")
    with pytest.raises(ConfigurationError, match="rendered empty"):
        resolve_environment(environments=None, environment=None, stack="")


def test_refreshable_mode_is_checked_when_the_environment_is_built():
    from airflow_pulumi_decorators.identity import (
        GkeMetadataServer,
        ServiceAccountImpersonation,
        WorkloadIdentityFederation,
        identity_from_connection,
    )

    sa, broker = "deployer@acme-prod.iam.gserviceaccount.com", "broker@acme-shared.iam.gserviceaccount.com"
    with pytest.raises(ConfigurationError, match="delegates"):
        Environment(stack="x", credential_mode="refreshable",
                    identity=ServiceAccountImpersonation(sa, source=GkeMetadataServer(), delegates=[broker]))
    # What only the worker knows passes now and is checked at task start: a connection, a config file.
    for identity in (
        ServiceAccountImpersonation(sa, source=identity_from_connection("gcp"), delegates=[broker]),
        ServiceAccountImpersonation(sa, source=WorkloadIdentityFederation(credential_config_file="/etc/wif.json")),
    ):
        assert Environment(stack="x", credential_mode="refreshable", identity=identity).identity is identity
