"""The DAG files our integration tests run (``tests/dagfiles.py``, ``tests/*/dags/``): found by name, given
their parameters beside the copy (both removed after the run), and each importable on its own with its
defaults."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from airflow.sdk import DAG

from tests.dagfiles import DAGS, TESTS, dag_source, write_dag_params
from tests.integration.dags.dagparams import dag_params, pulumi_command

#: The DAG files that take parameters (``tests/testing/dags/`` holds a file for the DAG runner's own tests).
DAG_FILES = sorted(
    path
    for folder in ("integration", "reliability", "real_cli")
    for path in (TESTS / folder / "dags").glob("*.py")
    if path.name not in ("__init__.py", "dagparams.py")
)


def test_names_find_integration_dags_and_dags_of_other_folders():
    assert dag_source("local_files") == (DAGS / "local_files.py").read_text()
    killed = TESTS / "reliability" / "dags" / "killed_stack.py"
    assert dag_source("reliability/dags/killed_stack") == killed.read_text()
    with pytest.raises(FileNotFoundError):
        dag_source("no_such_dag")


def test_parameters_go_beside_the_copy_with_the_engines_name(tmp_path):
    class Kit:
        name = "standin-exe"

    copy = tmp_path / "t_abc.py"
    write_dag_params(copy, Kit(), {"count": 2, "folder": "/x"})
    assert json.loads((tmp_path / "t_abc.json").read_text()) == {"engine": "standin-exe", "count": 2, "folder": "/x"}
    params = dag_params(str(copy))
    assert params == {"dag_id": "t_abc", "engine": "standin-exe", "count": 2, "folder": "/x"}
    assert pulumi_command(params) is None  # an executable: [pulumi] cli_path names it
    alone = dag_params(str(tmp_path / "t_alone.py"))
    assert alone == {"dag_id": "t_alone", "engine": "standin"}
    assert type(pulumi_command(alone)).__name__ == "StandinCommand"


def test_the_copy_and_its_parameters_are_removed_after_the_run(run_dag_file):
    result = run_dag_file("explicit_exports", dag_id="t_dagfile_removed")
    assert result.state == "success", result.output[-3000:]
    assert not list(Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).glob("t_dagfile_removed.*"))


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_each_dag_file_imports_on_its_own_and_defines_one_dag_named_after_it(path: Path):
    name = f"apd_dagfile_{path.parent.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    dags = [value for value in vars(module).values() if isinstance(value, DAG)]
    assert [d.dag_id for d in dags] == [path.stem]
