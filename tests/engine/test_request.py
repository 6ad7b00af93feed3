"""The run context: built once, so the engine reads no environment dict back."""

import os

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.engine import OperationResult, RunContext
from airflow_pulumi_decorators.engine.request import passphrase_source


def test_a_context_from_an_engine_environment_reads_it_once():
    context = RunContext.from_env(
        {"PULUMI_BACKEND_URL": "file:///b", "PULUMI_HOME": "/h", "A": "1", "B": None}, environ={}
    )
    assert context.backend == BackendUrl("file:///b") and context.pulumi_home == "/h"
    assert context.extra_env == {"A": "1", "B": None}
    assert context.env == {"A": "1", "B": None, "PULUMI_BACKEND_URL": "file:///b", "PULUMI_HOME": "/h"}
    assert context.plugins_dir == os.path.realpath("/h/plugins")


def test_the_workers_backend_counts_and_none_is_the_clis_default():
    assert RunContext.from_env({}, environ={"PULUMI_BACKEND_URL": "gs://w"}).backend_text == "gs://w"
    context = RunContext.from_env({}, environ={})
    assert context.backend is None and context.backend_text == "(the CLI's default)"
    assert "PULUMI_BACKEND_URL" not in context.env and "PULUMI_HOME" not in context.env


def test_a_credentials_variables_are_added_and_win():
    context = RunContext(backend=BackendUrl("file:///b"), extra_env={"A": "1", "G": "worker"})
    added = context.with_env({"G": None, "T": "t"})
    assert added.extra_env == {"A": "1", "G": None, "T": "t"} and added.backend == context.backend
    assert context.with_env({}) is context


def test_the_passphrase_source_in_words_never_the_passphrase():
    assert passphrase_source({"PULUMI_CONFIG_PASSPHRASE": "s"}, {}) == (
        "the pulumi connection (its extra 'config_passphrase')")
    assert passphrase_source({}, {"PULUMI_CONFIG_PASSPHRASE": "s"}) == "the worker's PULUMI_CONFIG_PASSPHRASE"
    assert passphrase_source({}, {"PULUMI_CONFIG_PASSPHRASE_FILE": "/p"}) == "the file PULUMI_CONFIG_PASSPHRASE_FILE=/p"
    assert passphrase_source({"PULUMI_CONFIG_PASSPHRASE": ""}, {"PULUMI_CONFIG_PASSPHRASE": "s"}) == (
        "the engine's environment")


def test_has_changes_ignores_the_ops_that_change_nothing():
    result = OperationResult(operation="up", stack="s", outputs={}, changes={"same": 2, "read": 1}, version=None,
                             duration_s=0.0)
    assert not result.has_changes and result.declared_outputs == ()
