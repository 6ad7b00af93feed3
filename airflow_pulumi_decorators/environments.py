"""Environments: which stack, config and identity a run uses.

An :class:`Environment` is validated when the DAG file is parsed; which one a run uses is decided when
the task starts (the ``environment`` argument is templated, e.g. ``"{{ params.env }}"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from airflow_pulumi_decorators.errors import ConfigurationError, UnknownEnvironmentError

# Pulumi's own rule for stack names (letters, digits, '-', '_', '.'); org/project/ prefixes are allowed.
_STACK_PART = r"[A-Za-z0-9_.-]+"
_STACK_RE = re.compile(rf"^(?:{_STACK_PART}/){{0,2}}{_STACK_PART}$")
_PROJECT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
CREDENTIAL_MODES = ("token", "refreshable")


def _is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def validate_stack_name(stack: str, *, parameter: str = "stack") -> str:
    """Check a stack name the way Pulumi does; templates pass (they are checked after rendering).

    :param stack: ``name``, ``org/name`` or ``org/project/name``.
    :param parameter: the parameter to name in the error.
    """
    if not isinstance(stack, str) or not stack.strip():
        raise ConfigurationError(f"{parameter!r} must be a non-empty stack name, got {stack!r}")
    if _is_template(stack):
        return stack
    if not _STACK_RE.match(stack):
        raise ConfigurationError(
            f"{parameter!r}={stack!r} is not a valid Pulumi stack name: use letters, digits, '-', '_' or "
            f"'.', optionally prefixed by 'org/' or 'org/project/'"
        )
    return stack


def validate_project_name(project: str) -> str:
    """Check a Pulumi project name.

    :param project: the Pulumi project, e.g. ``analytics-infra``.
    """
    if not isinstance(project, str) or not _PROJECT_RE.match(project):
        raise ConfigurationError(
            f"'project'={project!r} is not a valid Pulumi project name: use letters, digits, '-', '_' or '.'"
        )
    return project


def config_value_to_str(key: str, value: Any) -> str:
    """Render a config value as Pulumi stores it: strings as is, the rest as JSON.

    Structured values become JSON text, which ``pulumi.Config.get_object`` reads back.

    :param key: the config key, named in the error.
    :param value: a str, bool, int, float, list or dict.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, list, dict)):
        return json.dumps(value)
    raise ConfigurationError(
        f"config value for {key!r} has type {type(value).__name__}; use str, bool, int, float, list or dict"
    )


def _frozen_config(name: str, config: Mapping[str, Any] | None) -> Mapping[str, str]:
    if config is None:
        return MappingProxyType({})
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"{name!r} must be a mapping of config keys to values, got {type(config).__name__}")
    out: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key or key.startswith(":") or key.endswith(":"):
            raise ConfigurationError(
                f"{name!r} has an invalid config key {key!r}: use 'namespace:key' (e.g. 'gcp:project') or 'key'"
            )
        out[key] = config_value_to_str(key, value)
    return MappingProxyType(out)


@dataclass(frozen=True)
class Environment:
    """One deployment environment (dev, staging, prod …): its stack, Pulumi config and identity.

    :param stack: the Pulumi stack (``name``, ``org/name`` or ``org/project/name``). The task's templated
        ``stack`` argument, when given, overrides it for a run (per-run stacks).
    :param config: plaintext Pulumi config, e.g. ``{"gcp:project": "acme-dev"}``. Non-string values are
        stored as JSON.
    :param secret_config: config stored encrypted by Pulumi's secrets provider and masked in logs.
    :param identity: where the task gets its short-lived Google Cloud credential
        (:mod:`airflow_pulumi_decorators.identity`); ``None`` passes no credential to the engine.
    :param credential_mode: ``"token"`` (an access token in the engine's environment only) or
        ``"refreshable"`` (a credential the engine can refresh itself, for long updates).
    :param project_id: the Google Cloud project handed to the engine as ``GOOGLE_CLOUD_PROJECT``; defaults
        to ``config["gcp:project"]``.
    :param backend_url: the Pulumi state backend for this environment; defaults to the ``pulumi``
        connection's backend, then ``PULUMI_BACKEND_URL``, then ``[pulumi] backend_url``, then the embedded
        local backend.
    :param protected: refuse destructive operations on this environment's stack (prod by convention).
    :param pulumi_conn_id: the Airflow ``pulumi`` connection (backend URL, access token, secrets provider,
        passphrase) this environment uses; overrides the task's ``pulumi_conn_id``.
    """

    stack: str
    config: Mapping[str, Any] = field(default_factory=dict)
    secret_config: Mapping[str, Any] = field(default_factory=dict, repr=False)
    identity: Any = None
    credential_mode: str = "token"
    project_id: str | None = None
    backend_url: str | None = None
    protected: bool = False
    pulumi_conn_id: str | None = None

    def __post_init__(self) -> None:
        validate_stack_name(self.stack)
        object.__setattr__(self, "config", _frozen_config("config", self.config))
        object.__setattr__(self, "secret_config", _frozen_config("secret_config", self.secret_config))
        both = sorted(set(self.config) & set(self.secret_config))
        if both:
            raise ConfigurationError(
                f"config keys {both} appear in both 'config' and 'secret_config'; keep each key in one of them"
            )
        if self.credential_mode not in CREDENTIAL_MODES:
            raise ConfigurationError(
                f"'credential_mode'={self.credential_mode!r} is not one of {', '.join(CREDENTIAL_MODES)}"
            )
        if self.identity is not None and not callable(getattr(self.identity, "describe", None)):
            raise ConfigurationError(
                "'identity' must be one of airflow_pulumi_decorators.identity's classes "
                f"(GkeMetadataServer, WorkloadIdentityFederation, ...), got {type(self.identity).__name__}"
            )
        if self.backend_url is not None and (not isinstance(self.backend_url, str) or "://" not in self.backend_url):
            raise ConfigurationError(
                f"'backend_url'={self.backend_url!r} is not a URL; use e.g. 'file:///path', 'gs://bucket/prefix' "
                "or 'https://api.pulumi.com'"
            )

    @property
    def gcp_project(self) -> str | None:
        """The Google Cloud project this environment deploys into, if it names one."""
        return self.project_id or self.config.get("gcp:project")

    def with_stack(self, stack: str) -> Environment:
        """A copy on another stack (e.g. a rendered stack name)."""
        return Environment(**{**self.__dict__, "stack": stack})


def validate_environments(environments: Mapping[str, Environment]) -> Mapping[str, Environment]:
    """Check an environment map at parse time: Environment values, and no two share a stack.

    Two environments on one stack (and one backend) would let staging update prod, so that is refused.

    :param environments: environment name to :class:`Environment`.
    """
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigurationError("'environments' must be a non-empty mapping of name to Environment")
    seen: dict[tuple[str | None, str], str] = {}
    for name, env in environments.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"'environments' keys must be non-empty strings, got {name!r}")
        if not isinstance(env, Environment):
            raise ConfigurationError(
                f"'environments'[{name!r}] must be an Environment(...), got {type(env).__name__}"
            )
        key = (env.backend_url, env.stack)
        if key in seen:
            raise ConfigurationError(
                f"environments {seen[key]!r} and {name!r} both use stack {env.stack!r}; each environment "
                "needs its own stack so one can never update another's infrastructure"
            )
        seen[key] = name
    return MappingProxyType(dict(environments))


def resolve_environment(
    *,
    environments: Mapping[str, Environment] | None,
    environment: str | None,
    stack: str | None,
) -> tuple[str, Environment]:
    """Pick the run's environment after templates are rendered.

    :param environments: the task's environment map, or ``None`` for a plain ``stack=``.
    :param environment: the rendered environment name.
    :param stack: the rendered stack name; overrides the environment's stack when both are given.
    :return: the environment's name and the :class:`Environment` to use.
    """
    if environments is None:
        if not stack:
            raise ConfigurationError("give either 'stack' or 'environments' (with 'environment')")
        validate_stack_name(stack)
        return stack, Environment(stack=stack)
    if environment is None or environment == "":
        if len(environments) == 1:
            environment = next(iter(environments))
        else:
            raise ConfigurationError(
                f"'environment' is empty; choose one of: {', '.join(sorted(environments))} "
                "(e.g. environment='{{ params.env }}')"
            )
    if environment not in environments:
        raise UnknownEnvironmentError(environment, list(environments))
    env = environments[environment]
    if stack and stack != env.stack:
        validate_stack_name(stack)
        env = env.with_stack(stack)
    if _is_template(env.stack):
        raise ConfigurationError(f"stack name {env.stack!r} of environment {environment!r} was not rendered")
    return environment, env
