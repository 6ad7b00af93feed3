"""Environments: which stack, config and identity a run uses.

An :class:`Environment` is validated when the DAG file is parsed; which one a run uses is decided when
the task starts (the ``environment`` argument is templated, e.g. ``"{{ params.env }}"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_pulumi_decorators import names
from airflow_pulumi_decorators.backend_url import validate_backend_url
from airflow_pulumi_decorators.errors import ConfigurationError, UnknownEnvironmentError

# Project IDs (6-30 chars); legacy domain-scoped ones look like 'example.com:my-project'.
_PROJECT_ID_RE = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_TEMPLATE_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_STACK_NAME_FIX = (
    "use letters, digits, '-', '_' or '.' (at most 100), optionally prefixed by 'org/' or 'org/project/'; "
    "for text from a template (a branch, a run id) use the stack_name filter, e.g. "
    "'pr-{{ params.branch | stack_name }}'"
)


def _is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def validate_stack_name(stack: str, *, parameter: str = "stack", project: str | None = None) -> str:
    """Check a stack name the way Pulumi does; a template's literal text is checked, the rest after rendering.

    :param stack: ``name``, ``org/name`` or ``org/project/name``.
    :param parameter: the parameter to name in the error.
    :param project: the task's Pulumi project: an ``org/project/name`` must name it.
    """
    if not isinstance(stack, str) or not stack.strip():
        raise ConfigurationError(f"{parameter!r} must be a non-empty stack name, got {stack!r}; {_STACK_NAME_FIX}")
    if _is_template(stack):
        literal = _TEMPLATE_PART.sub("", stack)
        bad = sorted({c for c in literal if not (c.isascii() and (c.isalnum() or c in "_.-/"))})
        if bad:
            raise ConfigurationError(
                f"{parameter!r}={stack!r} has {''.join(bad)!r} outside its template, which Pulumi refuses in a "
                f"stack name; {_STACK_NAME_FIX}"
            )
        return stack
    if stack.count("/") > 2:
        raise ConfigurationError(
            f"{parameter!r}={stack!r} has {stack.count('/') + 1} '/'-separated parts; Pulumi takes 'name', 'org/name' "
            f"or 'org/project/name'. {_STACK_NAME_FIX[0].upper()}{_STACK_NAME_FIX[1:]}"
        )
    problem = names.stack_reference_problem(stack)
    if problem:
        raise ConfigurationError(
            f"{parameter!r}={stack!r} is not a valid Pulumi stack name ({problem}); {_STACK_NAME_FIX}"
        )
    return check_stack_project(stack, parameter=parameter, project=project)


def check_stack_project(stack: str, *, parameter: str = "stack", project: str | None = None) -> str:
    """The part of :func:`validate_stack_name` that needs the task: an ``org/project/name`` must name its project.

    :param stack: a stack name already checked by :func:`validate_stack_name` (a template is left alone).
    :param parameter: the parameter to name in the error.
    :param project: the task's Pulumi project.
    """
    if not project or stack.count("/") != 2 or _is_template(stack):
        return stack
    parts = stack.split("/")
    if parts[1] != project:
        raise ConfigurationError(
            f"{parameter!r}={stack!r} names project {parts[1]!r}, but the task's project is {project!r}; "
            f"use {parts[0] + '/' + project + '/' + parts[2]!r} or just {parts[2]!r}, or change 'project'"
        )
    return stack


def validate_project_name(project: str) -> str:
    """Check a Pulumi project name the way Pulumi does.

    :param project: the Pulumi project, e.g. ``analytics-infra``.
    """
    if not isinstance(project, str):
        raise ConfigurationError(
            f"'project' must be a string (the Pulumi project name, e.g. 'analytics-infra'), got "
            f"{type(project).__name__} {project!r}"
        )
    problem = names.project_name_problem(project)
    if problem:
        raise ConfigurationError(
            f"'project'={project!r} is not a valid Pulumi project name ({problem}); use letters, digits, '-', '_' "
            "or '.' (at most 100), e.g. 'analytics-infra'"
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


def _check_project_id(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, str):
        number = " (that looks like a project number; Pulumi and the Google APIs want the project ID)" if isinstance(
            value, int) and not isinstance(value, bool) else ""
        raise ConfigurationError(
            f"Environment(project_id={value!r}) must be the Google Cloud project ID as a string, e.g. "
            f"project_id='acme-dev'{number}"
        )
    if not _PROJECT_ID_RE.match(value):
        raise ConfigurationError(
            f"Environment(project_id={value!r}) is not a Google Cloud project ID: 6-30 lowercase letters, digits "
            "or '-', starting with a letter (e.g. 'acme-dev'); the ID, not the display name or number"
        )


class FrozenMapping(Mapping[str, Any]):
    """A read-only mapping that Airflow can deep-copy and pickle.

    ``types.MappingProxyType`` is read-only too, but cannot be deep-copied, and Airflow deep-copies operators
    (``dag.partial_subset`` when a task is cleared with its upstream or downstream, ``.override()``).

    :param data: the items; copied, so later changes to the argument do not show through.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"

    def __reduce__(self) -> tuple[type[FrozenMapping], tuple[dict[str, Any]]]:
        return (FrozenMapping, (self._data,))


def _frozen_config(name: str, config: Mapping[str, Any] | None) -> Mapping[str, str]:
    if config is None:
        return FrozenMapping({})
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"{name!r} must be a mapping of config keys to values, got {type(config).__name__}")
    out: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key or key.startswith(":") or key.endswith(":"):
            raise ConfigurationError(
                f"{name!r} has an invalid config key {key!r}: use 'namespace:key' (e.g. 'gcp:project') or 'key'"
            )
        text = config_value_to_str(key, value)
        if not isinstance(value, str) and _is_template(text):
            raise ConfigurationError(
                f"{name!r}[{key!r}] has a template inside a {type(value).__name__}; templates are rendered in "
                "string values only: make it a string (e.g. '{{ var.json.settings | tojson }}') or drop the template"
            )
        out[key] = text
    return FrozenMapping(out)


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
        if _is_template(self.stack):
            raise ConfigurationError(
                f"Environment(stack={self.stack!r}) is not rendered (an Environment is fixed when the DAG is "
                "parsed); put the template in the task's 'stack' argument instead, e.g. "
                "@pulumi_stack(..., stack='pr-{{ params.branch | stack_name }}'), which overrides the environment's "
                "stack"
            )
        object.__setattr__(self, "config", _frozen_config("config", self.config))
        object.__setattr__(self, "secret_config", _frozen_config("secret_config", self.secret_config))
        both = sorted(set(self.config) & set(self.secret_config))
        if both:
            raise ConfigurationError(
                f"config keys {both} appear in both 'config' and 'secret_config'; keep each key in one of them"
            )
        # Checked here, not at module level: the default (token mode, no identity) loads no identity module.
        if self.credential_mode != "token" or self.identity is not None:
            from airflow_pulumi_decorators.identity.engine_env import CREDENTIAL_MODES

            if self.credential_mode not in CREDENTIAL_MODES:
                raise ConfigurationError(
                    f"'credential_mode'={self.credential_mode!r} is not one of {', '.join(CREDENTIAL_MODES)}"
                )
        if self.identity is not None and not callable(getattr(self.identity, "describe", None)):
            raise ConfigurationError(
                "'identity' must be one of airflow_pulumi_decorators.identity's classes "
                f"(GkeMetadataServer, WorkloadIdentityFederation, ...), got {type(self.identity).__name__}"
            )
        if self.identity is not None and self.credential_mode == "refreshable":  # CredentialMode.REFRESHABLE
            from airflow_pulumi_decorators.identity.handoff import check_refreshable

            check_refreshable(self.identity, read_files=False)
        if self.project_id is not None:
            _check_project_id(self.project_id)
        if self.backend_url is not None:
            validate_backend_url(self.backend_url, where="Environment(backend_url=...)")
        conn_id = self.pulumi_conn_id
        if conn_id is not None and (not isinstance(conn_id, str) or not conn_id.strip()):
            raise ConfigurationError(
                f"Environment(pulumi_conn_id={self.pulumi_conn_id!r}) must be an Airflow connection id (a "
                "non-empty string), e.g. 'pulumi_prod'"
            )

    @property
    def gcp_project(self) -> str | None:
        """The Google Cloud project this environment deploys into, if it names one."""
        return self.project_id or self.config.get("gcp:project")

    def with_stack(self, stack: str) -> Environment:
        """A copy on another stack (e.g. a rendered stack name)."""
        return Environment(**{**self.__dict__, "stack": stack})

    @property
    def config_templates(self) -> list[str]:
        """``config``/``secret_config`` keys whose values are templates (rendered at task start)."""
        return sorted(k for part in (self.config, self.secret_config) for k, v in part.items() if _is_template(v))

    def render_config(self, render: Callable[[str, str, str], Any]) -> Environment:
        """A copy whose templated config values are rendered; ``self`` when none is templated.

        :param render: ``render(field, key, template)`` → the value (``field`` is ``config`` or ``secret_config``).
        """
        if not self.config_templates:
            return self

        def rendered(field: str, values: Mapping[str, str]) -> dict[str, Any]:
            return {k: render(field, k, v) if _is_template(v) else v for k, v in values.items()}

        return Environment(
            **{**self.__dict__, "config": rendered("config", self.config),
               "secret_config": rendered("secret_config", self.secret_config)}
        )


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
    return FrozenMapping(dict(environments))


def environment_name(environments: Mapping[str, Environment], environment: str | None) -> str:
    """The run's environment name: the rendered ``environment``, or the only one there is.

    :param environments: the task's environment map.
    :param environment: the rendered environment name.
    :raises UnknownEnvironmentError: a name the map does not have.
    """
    if environment is None or environment == "":
        if len(environments) == 1:
            return next(iter(environments))
        raise ConfigurationError(
            f"'environment' is empty; choose one of: {', '.join(sorted(environments))} "
            "(e.g. environment='{{ params.env }}')"
        )
    if environment not in environments:
        raise UnknownEnvironmentError(environment, list(environments))
    return environment


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
            raise ConfigurationError(
                f"'stack' is {stack!r} at task start; if it is a template, it rendered empty (a param or conf value "
                "missing for this run?): set it, or give a default, e.g. "
                "{{ params.get('branch', 'main') | stack_name }}"
            )
        validate_stack_name(stack)
        return stack, Environment(stack=stack)
    environment = environment_name(environments, environment)
    env = environments[environment]
    if stack and stack != env.stack:
        validate_stack_name(stack)
        env = env.with_stack(stack)
    if env.config_templates:
        raise ConfigurationError(
            f"environment {environment!r} has config templates {env.config_templates} that were not rendered: "
            "the operator renders them with its template fields (render_template_fields), which did not run "
            "before execute(); run the task through Airflow, or render the values before building the Environment"
        )
    return environment, env
