"""The README's own example, run as written: the bucket's provider-computed name and URL reach the task
downstream on the stand-in engine (both forms), and a second run changes nothing."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.examples.conftest import IN_PROCESS_FOOTER, REPO

pytestmark = pytest.mark.integration


def readme_dag(uid: str, in_process: bool) -> tuple[str, str]:
    """The README's first Python block, as a DAG file with a unique dag id; returns (dag id, source)."""
    text = (REPO / "README.md").read_text()
    source = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    dag_id = f"analytics_{uid}"
    assert "def analytics():" in source and source.rstrip().endswith("\nanalytics()")
    source = source.replace("def analytics():", f"def {dag_id}():")
    source = source.rstrip()[: -len("analytics()")] + f"the_dag = {dag_id}()\n"
    return dag_id, source + (IN_PROCESS_FOOTER if in_process else "")


def test_readme_example_chains_the_bucket_into_load(examples):
    dag_id, source = readme_dag(uuid.uuid4().hex[:8], examples.kit.name == "standin")
    result = examples.run_dag(source, dag_id=dag_id)
    assert result.state == "success", result.output[-3000:]
    outputs = result.xcom("storage")
    assert re.fullmatch(r"raw-[0-9a-f]{7}", outputs["bucket"]), outputs
    assert outputs["url"] == f"gs://{outputs['bucket']}"
    assert result.rendered["load"]["op_args"] == [outputs["bucket"]]  # what `load` was called with

    dag_id2, source2 = readme_dag(uuid.uuid4().hex[:8], examples.kit.name == "standin")
    again = examples.run_dag(source2, dag_id=dag_id2)
    assert again.state == "success", again.output[-3000:]
    assert again.xcom("storage") == outputs
    assert again.xcom("storage", "pulumi_summary")["has_changes"] is False
