"""Mistakes a new user makes, one table: each gets a typed error that names the parameter and the fix, raised
as early as it can be.

* ``PARSE``: raised while the DAG file is imported (the DAG processor shows it as an import error; no run
  starts). Each case is written as a DAG file and imported.
* ``TASK_START``: raised when the task starts, before the engine runs (the task fails with the error in its
  log). All these cases are tasks of one DAG, run once with ``dag.test()``; each task's log is checked.
* ``SETTINGS``: a task-start error from the worker's ``[pulumi]`` settings; one DAG run per case.

``docs/reliability.md`` (its "Bad input" section) is this table in prose.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_pulumi_decorators import errors

PARSE, TASK_START, SETTINGS = "parse time", "task start", "task start (settings)"


@dataclass(frozen=True)
class Case:
    """One bad input.

    :param id: the case (also the task id of a task-start case).
    :param where: :data:`PARSE`, :data:`TASK_START` or :data:`SETTINGS`.
    :param error: the exact error class.
    :param code: DAG-file code (parse) or a task definition in the DAG body (task start); ``TID`` is the case id.
    :param names: what the message must name (the parameter, the value).
    :param fix: what the message must say to do.
    """

    id: str
    where: str
    error: type[Exception]
    code: str
    names: tuple[str, ...]
    fix: tuple[str, ...]


C, U, P, L, I = (
    errors.ConfigurationError,
    errors.UnknownEnvironmentError,
    errors.ProtectedStackError,
    errors.CredentialLifetimeError,
    errors.IdentityError,
)
SA = "deployer@acme-prod.iam.gserviceaccount.com"


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening, then released: nothing answers there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


NO_METADATA = f"127.0.0.1:{_closed_port()}"

HEADER = f"""
import datetime
import pendulum
from airflow.sdk import DAG, dag, task
from airflow_pulumi_decorators import Environment, OperationOptions, PulumiStackOperator, pulumi_stack
from airflow_pulumi_decorators.identity import (
    ApplicationDefault, GkeMetadataServer, ServiceAccountImpersonation, WorkloadIdentityFederation,
    identity_from_connection,
)
from airflow_pulumi_decorators.testing import StandinCommand

START = pendulum.datetime(2026, 1, 1)
SA = {SA!r}
AUDIENCE = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/airflow/providers/k8s"


def wif(**changes):
    config = {{
        "type": "external_account", "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {{"file": "/var/run/secrets/tokens/gcp", "format": {{"type": "text"}}}},
    }}
    config.update(changes)
    return config


def a_dag():
    return DAG(dag_id="bad_input", schedule=None, start_date=START)
"""


def parse(id: str, error: type[Exception], code: str, names: tuple[str, ...], fix: tuple[str, ...]) -> Case:
    return Case(id, PARSE, error, code, names, fix)


def task_with(decorator_args: str, body: str = "return {}", call: str = "TID()") -> str:
    return f"@pulumi_stack(project='infra', task_id='TID', pulumi_command=StandinCommand(), {decorator_args})\ndef TID():\n    {body}\n{call}\n"


def in_dag(code: str) -> str:
    return "with a_dag():\n" + textwrap.indent(code, "    ")


#: The same task as a direct ``PulumiStackOperator``: it gets the decorator's checks.
OPERATOR_TASK = (
    "def TID_program():\n    return {{}}\n"
    "PulumiStackOperator(task_id='TID', project='infra', program=TID_program, pulumi_command=StandinCommand(), {args})\n"
)


def operator_with(args: str) -> str:
    return OPERATOR_TASK.format(args=args)


PARSE_CASES = [
    # -- Environment ------------------------------------------------------------------------------------------
    parse("env_stack_with_space", C, "Environment(stack='my stack')", ("'stack'", "invalid character ' '"), ("letters, digits", "stack_name filter")),
    parse("env_stack_too_long", C, "Environment(stack='s' * 101)", ("'stack'", "cannot exceed 100"), ("at most 100",)),
    parse("env_stack_four_parts", C, "Environment(stack='acme/infra/dev/eu')", ("'stack'", "4 '/'-separated parts"), ("'org/project/name'",)),
    parse("env_stack_empty", C, "Environment(stack='')", ("'stack'", "non-empty"), ("letters, digits",)),
    parse("env_stack_template", C, "Environment(stack='pr-{{ params.branch }}')", ("Environment(stack=", "not rendered"), ("task's 'stack' argument",)),
    parse("env_config_list", C, "Environment(stack='dev', config=['gcp:project=acme-dev'])", ("'config'",), ("mapping of config keys",)),
    parse("env_config_bad_key", C, "Environment(stack='dev', config={':project': 'acme-dev'})", ("'config'", "':project'"), ("'namespace:key'",)),
    parse("env_config_value_type", C, "Environment(stack='dev', config={'app:day': datetime.date(2026, 1, 1)})", ("'app:day'", "date"), ("use str, bool, int, float, list or dict",)),
    parse("env_key_in_config_and_secret", C, "Environment(stack='dev', config={'db:pw': 'x'}, secret_config={'db:pw': 'y'})", ("'db:pw'", "'secret_config'"), ("keep each key in one",)),
    parse("env_template_in_list_config", C, "Environment(stack='dev', config={'app:tags': ['{{ ds }}']})", ("'config'", "'app:tags'"), ("string values only",)),
    parse("env_credential_mode_typo", C, "Environment(stack='dev', credential_mode='refresh')", ("'credential_mode'", "'refresh'"), ("token, refreshable",)),
    parse("env_identity_is_an_email", C, "Environment(stack='dev', identity=SA)", ("'identity'", "str"), ("GkeMetadataServer",)),
    parse("env_project_id_number", C, "Environment(stack='dev', project_id=123456789012)", ("project_id=123456789012", "project number"), ("project_id='acme-dev'",)),
    parse("env_project_id_display_name", C, "Environment(stack='dev', project_id='Acme Dev')", ("project_id='Acme Dev'",), ("6-30 lowercase letters",)),
    parse("env_backend_relative_file", C, "Environment(stack='dev', backend_url='file://state')", ("backend_url", "'file://state'"), ("absolute path",)),
    parse("env_backend_unknown_scheme", C, "Environment(stack='dev', backend_url='gcs://acme-state')", ("backend_url", "'gcs'"), ("gs://bucket",)),
    parse("env_backend_plain_path", C, "Environment(stack='dev', backend_url='/srv/pulumi')", ("backend_url", "not a URL"), ("file:///absolute/path",)),
    parse("env_backend_http_remote", C, "Environment(stack='dev', backend_url='http://pulumi.acme.internal')", ("backend_url",), ("use https://",)),
    parse("env_pulumi_conn_id_empty", C, "Environment(stack='dev', pulumi_conn_id='')", ("pulumi_conn_id=''",), ("connection id",)),
    parse("env_refreshable_metadata_delegates", C,
          "Environment(stack='dev', credential_mode='refreshable', identity=ServiceAccountImpersonation(SA, "
          "source=GkeMetadataServer(), delegates=['broker@acme-shared.iam.gserviceaccount.com']))",
          ("credential_mode='refreshable'", "delegates"), ("remove delegates", "credential_mode='token'")),
    parse("env_refreshable_federation_delegates", C,
          "Environment(stack='dev', credential_mode='refreshable', identity=ServiceAccountImpersonation(SA, "
          "source=WorkloadIdentityFederation(wif()), delegates=['broker@acme-shared.iam.gserviceaccount.com']))",
          ("credential_mode='refreshable'", "delegates"), ("roles/iam.serviceAccountTokenCreator",)),
    parse("env_refreshable_double_impersonation", C,
          "Environment(stack='dev', credential_mode='refreshable', identity=ServiceAccountImpersonation(SA, "
          "source=WorkloadIdentityFederation(wif(service_account_impersonation_url='https://iamcredentials.googleapis.com/v1/"
          "projects/-/serviceAccounts/other@acme.iam.gserviceaccount.com:generateAccessToken'))))",
          ("credential_mode='refreshable'", "already impersonates"), ("service_account_impersonation_url",)),
    # -- the task's own arguments ----------------------------------------------------------------------------
    parse("no_stack_no_environments", C, in_dag("@pulumi_stack(project='infra')\ndef storage():\n    return {}\nstorage()"), ("'stack'", "'environments'"), ("stack='dev'",)),
    parse("environment_without_environments", C, in_dag(task_with("stack='dev', environment='dev'")), ("'environment'", "'environments'"), ("map of name to Environment",)),
    parse("unknown_literal_environment", U, in_dag(task_with("environments={'dev': Environment(stack='dev')}, environment='prod'")), ("'prod'", "known environments: dev"), ("add 'prod' to 'environments'",)),
    parse("several_environments_none_chosen", C, in_dag(task_with("environments={'dev': Environment(stack='dev'), 'prod': Environment(stack='prod')}")), ("'environment' is required",), ("environment='{{ params.env }}'",)),
    parse("environments_empty", C, in_dag(task_with("environments={}")), ("'environments'",), ("non-empty mapping",)),
    parse("environments_plain_dict", C, in_dag(task_with("environments={'dev': {'stack': 'dev'}}, environment='dev'")), ("'environments'['dev']", "dict"), ("Environment(...)",)),
    parse("environments_share_a_stack", C, in_dag(task_with("environments={'staging': Environment(stack='main'), 'prod': Environment(stack='main')}, environment='{{ params.env }}'")), ("'staging'", "'prod'", "'main'"), ("its own stack",)),
    parse("project_with_space", C, in_dag("@pulumi_stack(project='my infra', stack='dev')\ndef storage():\n    return {}\nstorage()"), ("'project'", "'my infra'"), ("letters, digits",)),
    parse("project_is_an_int", C, in_dag("@pulumi_stack(project=42, stack='dev')\ndef storage():\n    return {}\nstorage()"), ("'project'", "int"), ("e.g. 'analytics-infra'",)),
    parse("project_too_long", C, in_dag("@pulumi_stack(project='p' * 101, stack='dev')\ndef storage():\n    return {}\nstorage()"), ("'project'", "limited to 100"), ("at most 100",)),
    parse("stack_with_bang", C, in_dag(task_with("stack='dev!'")), ("'stack'", "'dev!'"), ("letters, digits",)),
    parse("stack_names_another_project", C, in_dag(task_with("stack='organization/billing/dev'")), ("'stack'", "'billing'", "'infra'"), ("'organization/infra/dev'",)),
    parse("environment_stack_names_another_project", C, in_dag(task_with("environments={'dev': Environment(stack='organization/billing/dev')}")), ("environments['dev'].stack", "'billing'"), ("change 'project'",)),
    parse("stack_template_literal_space", C, in_dag(task_with("stack='pr {{ params.n }}'")), ("'stack'", "' '"), ("stack_name filter",)),
    parse("operation_typo", C, in_dag(task_with("stack='dev', operation='deploy'")), ("'operation'", "'deploy'"), ("up, preview, refresh, destroy",)),
    parse("remove_stack_on_up", C, in_dag(task_with("stack='dev', remove_stack=True")), ("'remove_stack'", "'up'"), ("drop it or change 'operation'",)),
    parse("lock_wait_negative", C, in_dag(task_with("stack='dev', lock_wait=-5")), ("'lock_wait'", "-5"), ("seconds >= 0",)),
    parse("policy_packs_a_string", C, in_dag(task_with("stack='dev', policy_packs='policies/gcp'")), ("'policy_packs'",), ("policy_packs=['policies/gcp']",)),
    parse("policy_pack_configs_mismatch", C, in_dag(task_with("stack='dev', policy_packs=['a', 'b'], policy_pack_configs=['a.json']")), ("'policy_pack_configs'", "2 'policy_packs'"), ("one config file per pack",)),
    parse("pulumi_command_is_a_path", C, in_dag("@pulumi_stack(project='infra', stack='dev', pulumi_command='/opt/pulumi/bin/pulumi')\ndef storage():\n    return {}\nstorage()"), ("'pulumi_command'", "'/opt/pulumi/bin/pulumi'"), ("cli_path=", "PulumiCommand(root=")),
    parse("pulumi_command_is_a_class", C, in_dag("@pulumi_stack(project='infra', stack='dev', pulumi_command=StandinCommand)\ndef storage():\n    return {}\nstorage()"), ("'pulumi_command'", "StandinCommand"), ("StandinCommand()",)),
    parse("destroy_protected_environment", P, in_dag(task_with("environments={'prod': Environment(stack='prod', protected=True)}, environment='prod'", call="TID.destroy()")), ("'prod'", "protected"), ("allow_destroy_protected=True",)),
    parse("called_outside_a_dag", C, "@pulumi_stack(project='infra', stack='dev')\ndef storage():\n    return {}\nstorage()", ("storage(...)", "outside a DAG"), ("with DAG(...)",)),
    parse("preview_called_outside_a_dag", C, "@pulumi_stack(project='infra', stack='dev')\ndef storage():\n    return {}\nstorage.preview()", ("storage.preview(...)", "outside a DAG"), ("@dag",)),
    parse("two_ups_on_one_stack", C, in_dag("@pulumi_stack(project='infra', stack='dev')\ndef network():\n    return {}\n@pulumi_stack(project='infra', stack='dev')\ndef storage():\n    return {}\nnetwork()\nstorage()"), ("'network'", "'storage'", "'dev'"), ("its own stack",)),
    parse("same_function_called_twice", C, in_dag("@pulumi_stack(project='infra', stack='dev')\ndef storage(region):\n    return {}\nstorage(region='EU')\nstorage(region='US')"), ("'storage'", "'storage__1'"), ("one function",)),
    parse("token_shorter_than_execution_timeout", L, in_dag(task_with(
        "environments={'dev': Environment(stack='dev', identity=ServiceAccountImpersonation(SA, source=GkeMetadataServer(), lifetime=3600))}, "
        "execution_timeout=datetime.timedelta(hours=2)")), ("lives 3600s", "execution_timeout of 7200s"), ("lifetime=7500", "credential_mode='refreshable'")),
    # -- the same, on a direct PulumiStackOperator ---------------------------------------------------------------
    parse("operator_pulumi_command_is_a_path", C, in_dag("PulumiStackOperator(task_id='storage', project='infra', stack='dev', program=dict, pulumi_command='/opt/pulumi/bin/pulumi')"), ("'pulumi_command'", "'/opt/pulumi/bin/pulumi'"), ("cli_path=", "PulumiCommand(root=")),
    parse("operator_pulumi_command_not_a_command", C, in_dag("PulumiStackOperator(task_id='storage', project='infra', stack='dev', program=dict, pulumi_command=object())"), ("'pulumi_command'", "got object"), ("PulumiCommand(root='/opt/pulumi')", "StandinCommand()")),
    parse("operator_stack_names_another_project", C, in_dag(operator_with("stack='organization/billing/dev'")), ("'stack'", "'billing'", "'infra'"), ("'organization/infra/dev'",)),
    parse("operator_environment_stack_names_another_project", C, in_dag(operator_with("environments={'dev': Environment(stack='organization/billing/dev')}")), ("environments['dev'].stack", "'billing'"), ("change 'project'",)),
    parse("operator_token_shorter_than_execution_timeout", L, in_dag(operator_with(
        "environments={'dev': Environment(stack='dev', identity=ServiceAccountImpersonation(SA, source=GkeMetadataServer(), lifetime=3600))}, "
        "execution_timeout=datetime.timedelta(hours=2)")), ("lives 3600s", "execution_timeout of 7200s"), ("lifetime=7500", "credential_mode='refreshable'")),
    parse("operator_options_and_an_option_keyword", C, in_dag(operator_with("stack='dev', options=OperationOptions(refresh=True), lock_wait=600")), ("'options'", "'lock_wait'"), ("options=OperationOptions(lock_wait=...", "keywords only")),
    parse("operator_options_a_dict", C, in_dag(operator_with("stack='dev', options={'lock_wait': 600}")), ("'options'", "got dict"), ("options=OperationOptions(lock_wait=600)",)),
    parse("operator_options_for_another_operation", C, in_dag(operator_with("stack='dev', options=OperationOptions(remove_stack=True)")), ("'remove_stack'", "'up'"), ("drop it or change 'operation'",)),
    parse("operator_and_decorator_up_on_one_stack", C, in_dag("@pulumi_stack(project='infra', stack='dev')\ndef storage():\n    return {}\nstorage()\n"
                                                              "PulumiStackOperator(task_id='network', project='infra', stack='dev', program=dict)"), ("'storage'", "'network'", "'dev'"), ("its own stack",)),
    # -- identities --------------------------------------------------------------------------------------------
    parse("impersonation_without_source", C, "ServiceAccountImpersonation(SA)", ("source=...",), ("source=GkeMetadataServer()",)),
    parse("impersonation_of_a_user", C, "ServiceAccountImpersonation('me@gmail.com', source=GkeMetadataServer())", ("target_principal='me@gmail.com'",), ("NAME@PROJECT.iam.gserviceaccount.com",)),
    parse("impersonation_delegate_none", C, "ServiceAccountImpersonation(SA, source=GkeMetadataServer(), delegates=[None])", ("delegates", "entry 0 is None"), ("Remove the empty entry",)),
    parse("impersonation_lifetime_a_day", C, "ServiceAccountImpersonation(SA, source=GkeMetadataServer(), lifetime=86400)", ("lifetime=86400",), ("between 1 and 43200",)),
    parse("scope_without_url", C, "GkeMetadataServer(scopes=['cloud-platform'])", ("scopes=...", "'cloud-platform'"), ("https://www.googleapis.com/auth/cloud-platform",)),
    parse("metadata_host_url_path", C, "GkeMetadataServer(metadata_host='http://')", ("metadata_host='http://'",), ("'host:port'",)),
    parse("metadata_service_account_user", C, "GkeMetadataServer(service_account='me@gmail.com')", ("service_account='me@gmail.com'",), ("NAME@PROJECT.iam.gserviceaccount.com",)),
    parse("federation_with_key_file", C, "WorkloadIdentityFederation({'type': 'service_account', 'private_key': 'x'})", ("'service_account'",), ("keyless", "create-cred-config")),
    parse("federation_audience_project_id", C, "WorkloadIdentityFederation(wif(audience='//iam.googleapis.com/projects/acme-prod/locations/global/workloadIdentityPools/airflow/providers/k8s'))", ("audience", "acme-prod"), ("PROJECT_NUMBER",)),
    parse("federation_json_typo", C, "WorkloadIdentityFederation('{\"type\": \"external_account\",\\n \"audience\": }')", ("credential_config", "line 2 column 14"), ("create-cred-config",)),
    parse("federation_executable_source", C, "WorkloadIdentityFederation(wif(credential_source={'executable': {'command': '/bin/token'}}))", ("'executable'",), ("credential_source={'file': PATH}",)),
    parse("federation_config_and_file", C, "WorkloadIdentityFederation(wif(), credential_config_file='/etc/gcp/wif.json')", ("credential_config", "credential_config_file"), ("not both",)),
    parse("federation_token_url_not_http", C, "WorkloadIdentityFederation(wif(token_url='sts.googleapis.com/v1/token'))", ("token_url", "'sts.googleapis.com/v1/token'"), ("http(s) URL",)),
    parse("connection_identity_empty_id", C, "identity_from_connection('')", ("conn_id=...",), ("non-empty connection id",)),
    parse("adc_empty_quota_project", C, "ApplicationDefault(quota_project_id='')", ("quota_project_id=''",), ("a project id or None",)),
    parse("decorator_without_project", C, in_dag("@pulumi_stack(task_id='TID', stack='dev', pulumi_command=StandinCommand())\ndef TID():\n    return {}\nTID()\n"), ("'project'",), ('@pulumi_stack(project=',)),
    parse("decorator_without_parentheses", C, in_dag("@pulumi_stack\ndef TID():\n    return {}\nTID()\n"), ('@pulumi_stack above',), ('@pulumi_stack(project=',)),
    parse("decorator_program_argument", C, in_dag("@pulumi_stack(project='infra', stack='dev', region='EU', pulumi_command=StandinCommand())\ndef TID(region):\n    return {}\nTID()\n"), ("unknown keyword 'region'",), ('pass it when you call it',)),
    parse("decorator_keyword_typo", C, in_dag("@pulumi_stack(project='infra', stack='dev', lock_wiat=5, pulumi_command=StandinCommand())\ndef TID():\n    return {}\nTID()\n"), ("unknown keyword 'lock_wiat'",), ("did you mean 'lock_wait'",)),
    parse("program_argument_missing", C, in_dag("@pulumi_stack(project='infra', stack='dev', pulumi_command=StandinCommand())\ndef TID(region):\n    return {}\nTID()\n"), ("missing a required argument: 'region'",), ('pass its arguments when calling it',)),
    parse("program_argument_unexpected", C, in_dag("@pulumi_stack(project='infra', stack='dev', pulumi_command=StandinCommand())\ndef TID(region):\n    return {}\nTID(region='EU', zone='b')\n"), ("unexpected keyword argument 'zone'",), ('pass its arguments when calling it',)),
    parse("mapped_up_fixed_stack", C, in_dag("@pulumi_stack(project='infra', stack='dev', pulumi_command=StandinCommand())\ndef TID(region):\n    return {}\nTID.expand(region=['eu', 'us'])\n"), ('is mapped', "stack 'dev'"), ('{{ ti.map_index }}',)),
]

STACK_TASK = "@pulumi_stack(project='infra', task_id='TID', pulumi_command=StandinCommand(), {args})\ndef TID():\n    return {{}}\nTID()\n"


def start(id: str, error: type[Exception], code: str, names: tuple[str, ...], fix: tuple[str, ...]) -> Case:
    return Case(id, TASK_START, error, code, names, fix)


def stack_task(args: str) -> str:
    return STACK_TASK.format(args=args)


TASK_START_CASES = [
    start("upstream_returned_none", C,
          "@task(task_id='TID_upstream')\ndef TID_upstream():\n    return None\n"
          "@pulumi_stack(project='infra', stack='TID', task_id='TID', pulumi_command=StandinCommand())\n"
          "def TID(bucket: str):\n    return {'bucket': bucket}\nTID(bucket=TID_upstream())\n",
          ("argument 'bucket'", "'TID_upstream'", "gave None"), ("return a value", "bucket=None in its signature")),
    start("stack_template_missing_param", C, stack_task("stack='pr-{{ params.missing_branch }}'"), ("'stack'", "'missing_branch'"), ("params.get('missing_branch'",)),
    start("environment_template_missing_conf_key", C, stack_task("environments={'dev': Environment(stack='TID-dev'), 'prod': Environment(stack='TID-prod')}, environment=\"{{ dag_run.conf['missing_env'] }}\""), ("'environment'", "'missing_env'"), ("dag_run.conf.get('missing_env'",)),
    start("stack_template_rendered_empty", C, stack_task("stack=\"{{ params.get('empty_branch', '') }}\""), ("'stack' template", "rendered to ''"), ("give a default",)),
    start("stack_template_branch_with_slash", C, stack_task("stack='pr-{{ params.branch }}'"), ("'pr-feature/login'",), ("stack_name filter", "| stack_name")),
    start("argument_template_missing_param", C,
          "@pulumi_stack(project='infra', stack='TID', task_id='TID', pulumi_command=StandinCommand())\n"
          "def TID(region: str):\n    return {'region': region}\nTID(region='{{ params.missing_region }}')\n",
          ("'op_kwargs'", "'{{ params.missing_region }}'", "'missing_region'"), ("params.get('missing_region'",)),
    start("environment_rendered_unknown", U, stack_task("environments={'dev': Environment(stack='TID-dev'), 'prod': Environment(stack='TID-prod')}, environment='{{ params.target }}'"), ("'qa'", "known environments: dev, prod"), ("Fix the 'environment' argument",)),
    start("environment_rendered_none", C, stack_task("environments={'dev': Environment(stack='TID-dev'), 'prod': Environment(stack='TID-prod')}, environment=\"{{ dag_run.conf.get('no_such_key') }}\""), ("'environment' template", "rendered to 'None'"), ("give a default",)),
    start("config_template_missing_param", C, stack_task("environments={'dev': Environment(stack='TID', config={'gcp:region': '{{ params.missing_region }}'})}"), ("config['gcp:region']", "missing_region"), ("define it",)),
    start("config_literal_go_template", C, stack_task("environments={'dev': Environment(stack='TID', config={'app:values': 'replicas: {{ .Values.replicas }}'})}"), ("config['app:values']", "rendered as a Jinja template"), ("{% raw %}",)),
    start("environment_template_missing_variable", C, stack_task("environments={'dev': Environment(stack='TID-dev'), 'prod': Environment(stack='TID-prod')}, environment='{{ var.value.missing_deploy_env }}'"), ("'environment'", "'missing_deploy_env'"), ("var.value.get('missing_deploy_env'",)),
    start("secret_config_missing_variable", C, stack_task("environments={'dev': Environment(stack='TID', secret_config={'db:password': '{{ var.value.missing_db_password }}'})}"), ("secret_config['db:password']", "'missing_db_password'"), ("var.value.get('missing_db_password'",)),
    start("created_inside_a_running_task", C,
          "@pulumi_stack(project='infra', stack='TID-inner')\ndef TID_inner():\n    return {}\n"
          "@task(task_id='TID')\ndef TID():\n    TID_inner()\nTID()\n",
          ("TID_inner(...)", "inside the running task 'TID'"), ("in the DAG body",)),
    # -- the same, on a direct PulumiStackOperator ---------------------------------------------------------------
    start("operator_upstream_returned_none", C,
          "@task(task_id='TID_upstream')\ndef TID_upstream():\n    return None\n"
          "def TID_program(bucket: str):\n    return {'bucket': bucket}\n"
          "PulumiStackOperator(task_id='TID', project='infra', stack='TID', program=TID_program, pulumi_command=StandinCommand(), "
          "op_kwargs={'bucket': TID_upstream()})\n",
          ("argument 'bucket'", "'TID_upstream'", "gave None"), ("return a value", "bucket=None in its signature")),
    start("operator_stack_template_missing_param", C, operator_with("stack='op-{{ params.missing_branch }}'"), ("'stack'", "'missing_branch'"), ("params.get('missing_branch'",)),
    start("operator_stack_template_branch_with_slash", C, operator_with("stack='op-{{ params.branch }}'"), ("'op-feature/login'",), ("stack_name filter", "| stack_name")),
    start("operator_argument_template_missing_param", C, operator_with("stack='TID', op_kwargs={'region': '{{ params.missing_region }}'}").replace("TID_program():", "TID_program(region):"),
          ("'op_kwargs'", "'{{ params.missing_region }}'", "'missing_region'"), ("params.get('missing_region'",)),
    start("operator_environment_rendered_none", C, operator_with("environments={'dev': Environment(stack='TID-dev'), 'prod': Environment(stack='TID-prod')}, environment=\"{{ dag_run.conf.get('no_such_key') }}\""), ("'environment' template", "rendered to 'None'"), ("give a default",)),
    start("operator_config_template_missing_param", C, operator_with("environments={'dev': Environment(stack='TID', config={'gcp:region': '{{ params.missing_region }}'})}"), ("config['gcp:region']", "missing_region"), ("define it",)),
    start("operator_secret_config_missing_variable", C, operator_with("environments={'dev': Environment(stack='TID', secret_config={'db:password': '{{ var.value.missing_db_password }}'})}"), ("secret_config['db:password']", "'missing_db_password'"), ("var.value.get('missing_db_password'",)),
    start("protected_environment_from_template", P, stack_task("operation='destroy', environments={'dev': Environment(stack='TID-dev'), 'prod': Environment(stack='TID-prod', protected=True)}, environment='{{ params.protected_env }}'"), ("'TID-prod'", "protected"), ("allow_destroy_protected=True",)),
    start("diy_backend_with_an_organization", C, stack_task("stack='acme/TID'"), ("'acme/TID'", "'organization'"), ("Pulumi Cloud backend",)),
    start("connection_missing", C, stack_task("stack='TID', pulumi_conn_id='pulumi_typo'"), ("'pulumi_typo'", "is not defined"), ("AIRFLOW_CONN_PULUMI_TYPO",)),
    start("connection_of_another_type", C, stack_task("stack='TID', pulumi_conn_id='bad_input_http'"), ("'bad_input_http'", "'http'"), ("expected 'pulumi'",)),
    start("connection_extra_not_json", C, stack_task("stack='TID', pulumi_conn_id='bad_input_json'"), ("'bad_input_json'", "field 'extra'", "line 1 column 2"), ("fix it in the connection",)),
    start("connection_unknown_extra", C, stack_task("stack='TID', pulumi_conn_id='bad_input_extra'"), ("'bad_input_extra'", "'gcp:project'"), ("Environment(config=",)),
    start("connection_relative_backend", C, stack_task("stack='TID', pulumi_conn_id='bad_input_backend'"), ("'bad_input_backend'", "field 'host'"), ("absolute path",)),
    start("connection_passphrase_pasted_with_newline", C, stack_task("stack='TID', pulumi_conn_id='bad_input_pass'"), ("'bad_input_pass'", "extra 'config_passphrase'", "line break"), ("store the value without it",)),
    start("cloud_backend_without_token", C, stack_task("stack='TID', pulumi_conn_id='bad_input_cloud'"), ("field 'password' (Access token)", "'bad_input_cloud'"), ("PULUMI_ACCESS_TOKEN",)),
    start("gcp_connection_with_key_file", C, stack_task("environments={'dev': Environment(stack='TID', identity=identity_from_connection('bad_input_gcp_key'))}"), ("'bad_input_gcp_key'", "'key_path'"), ("keyless", "credential_config_file")),
    start("gcp_connection_extra_not_json", C, stack_task("environments={'dev': Environment(stack='TID', identity=identity_from_connection('bad_input_gcp_json'))}"), ("'bad_input_gcp_json'", "field 'extra'", "line 1 column"), ("fix it in the connection",)),
    start("federation_config_file_missing", C, stack_task("environments={'dev': Environment(stack='TID', identity=WorkloadIdentityFederation(credential_config_file='/nonexistent/wif.json'))}"), ("credential_config_file='/nonexistent/wif.json'", "does not exist"), ("mount it",)),
    start("federation_subject_token_file_missing", C, stack_task("environments={'dev': Environment(stack='TID', identity=WorkloadIdentityFederation(wif()))}"), ("'/var/run/secrets/tokens/gcp'", "credential_source.file"), ("projected service-account token",)),
    start("metadata_server_unreachable", I, stack_task(f"environments={{'dev': Environment(stack='TID', identity=GkeMetadataServer(metadata_host={NO_METADATA!r}))}}"), ("GKE metadata server", "no HTTP response"), ("not a GKE pod", "WorkloadIdentityFederation", "FakeGoogleTokenServer")),
]
RUN_PARAMS = {"branch": "feature/login", "target": "qa", "protected_env": "prod"}
CONNECTIONS = {
    "bad_input_http": {"conn_type": "http", "host": "example.com"},
    "bad_input_json": {"conn_type": "pulumi", "extra": "{oops"},
    "bad_input_extra": {"conn_type": "pulumi", "extra": {"gcp:project": "acme-dev"}},
    "bad_input_backend": {"conn_type": "pulumi", "host": "file://state"},
    "bad_input_pass": {"conn_type": "pulumi", "extra": {"config_passphrase": "correct horse\n"}},
    "bad_input_cloud": {"conn_type": "pulumi", "host": "https://api.pulumi.com", "login": "acme"},
    "bad_input_gcp_key": {"conn_type": "google_cloud_platform", "extra": {"key_path": "/secrets/sa.json"}},
    "bad_input_gcp_json": {"conn_type": "google_cloud_platform", "extra": "{'project': 'acme'}"},
}

SETTINGS_CASES = [
    Case("setting_pulumi_home_typo", SETTINGS, C, stack_task("stack='TID'"), ("[pulumi] pulumi_home", "'shared'"), ("per_task, inherit",)),
    Case("setting_backend_relative", SETTINGS, C, stack_task("stack='TID'"), ("PULUMI_BACKEND_URL on the worker", "'file://state'"), ("absolute path",)),
    Case("setting_refresh_not_boolean", SETTINGS, C, stack_task("stack='TID'"), ("[pulumi] refresh_before_up", "'sometimes'"), ("True or False",)),
]
SETTINGS_ENV = {
    "setting_pulumi_home_typo": {"AIRFLOW__PULUMI__PULUMI_HOME": "shared"},
    "setting_backend_relative": {"PULUMI_BACKEND_URL": "file://state"},
    "setting_refresh_not_boolean": {"AIRFLOW__PULUMI__REFRESH_BEFORE_UP": "sometimes"},
}
ALL_CASES = PARSE_CASES + TASK_START_CASES + SETTINGS_CASES


def _check_message(case: Case, error_name: str, message: str) -> None:
    assert error_name == f"{case.error.__module__}.{case.error.__qualname__}", (case.id, error_name, message)
    expected = [n.replace("TID", case.id) for n in case.names + case.fix]
    missing = [text for text in expected if text not in message]
    assert not missing, f"{case.id}: {missing} not in: {message}"


def _import(path: Path) -> None:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(path.stem, None)


def test_the_table_has_at_least_sixty_cases_with_unique_ids():
    ids = [case.id for case in ALL_CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60


def test_the_documented_table_lists_every_case_as_tested():
    text = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    assert f"holds {len(ALL_CASES)} mistakes" in text
    for case in ALL_CASES:
        assert f"| `{case.id}` | {case.where} | `{case.error.__name__}` |" in text, case.id


@pytest.mark.parametrize("case", PARSE_CASES, ids=lambda c: c.id)
def test_raised_when_the_dag_file_is_imported(case: Case, tmp_path: Path):
    path = tmp_path / f"bad_input_{uuid.uuid4().hex[:8]}.py"
    path.write_text(HEADER + "\n" + case.code.replace("TID", case.id) + "\n")
    with pytest.raises(Exception) as caught:
        _import(path)
    # Raised by our own validation inside the DAG file, not by Airflow or Python on the way.
    assert any(Path(entry.path) == path for entry in caught.traceback), caught.getrepr()
    _check_message(case, f"{type(caught.value).__module__}.{type(caught.value).__qualname__}", str(caught.value))


RECORDER = """
import json, os


def record_failure(context):
    exc = context.get("exception")
    with open(os.environ["BAD_INPUT_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"task": context["ti"].task_id, "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                              "message": str(exc)}) + "\\n")
"""


def _dag_source(cases: list[Case], params: dict) -> str:
    body = "".join(case.code.replace("TID", case.id) for case in cases)
    return (
        HEADER
        + RECORDER
        + f"\n@dag(dag_id='{{dag_id}}', schedule=None, start_date=START, params={params!r}, "
        + "default_args={'on_failure_callback': record_failure})\ndef bad_input():\n"
        + textwrap.indent(body, "    ")
        + "\nDAG_ = bad_input()\n"
    )


def _run(run_dag, monkeypatch, tmp_path: Path, cases: list[Case], params: dict) -> tuple[object, dict[str, dict]]:
    """Run the cases' DAG; return the run and each failed task's exception (type and message)."""
    record = tmp_path / "failures.jsonl"
    monkeypatch.setenv("BAD_INPUT_RECORD", str(record))
    run = run_dag(_dag_source(cases, params))
    failures = {}
    if record.exists():
        for line in record.read_text().splitlines():
            item = json.loads(line)
            failures[item["task"]] = item
    return run, failures


def _assert_failed_at_task_start(case: Case, outcome: tuple[object, dict[str, dict]]) -> None:
    run, failures = outcome
    assert run.task_states.get(case.id) == "failed", (case.id, run.task_states)
    failure = failures.get(case.id)
    assert failure is not None, f"{case.id}: the failure callback saw no exception"
    _check_message(case, failure["type"], failure["message"])
    # Failed before the engine ran: no stack was ever created for the task.
    assert not list(run.backend.glob(f".pulumi/stacks/*/{case.id}*.json"))


_RUN: dict[str, object] = {}


@pytest.mark.parametrize("case", TASK_START_CASES, ids=lambda c: c.id)
def test_raised_when_the_task_starts(case: Case, run_dag, monkeypatch, tmp_path):
    if "run" not in _RUN:  # one DAG run for every case (its tasks are independent)
        for conn_id, fields in CONNECTIONS.items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        _RUN["run"] = _run(run_dag, monkeypatch, tmp_path, TASK_START_CASES, RUN_PARAMS)
    _assert_failed_at_task_start(case, _RUN["run"])


@pytest.mark.parametrize("case", SETTINGS_CASES, ids=lambda c: c.id)
def test_raised_when_the_task_starts_from_worker_settings(case: Case, run_dag, monkeypatch, tmp_path):
    for name, value in SETTINGS_ENV[case.id].items():
        monkeypatch.setenv(name, value)
    _assert_failed_at_task_start(case, _run(run_dag, monkeypatch, tmp_path, [case], {}))
