"""Our suite's names for the test kit's DAG-run helpers (:mod:`airflow_pulumi_decorators.testing.dagrun`)."""

from airflow_pulumi_decorators.testing.dagrun import PASSPHRASE, DagRunResult, all_text_under

DagResult = DagRunResult

__all__ = ["PASSPHRASE", "DagResult", "all_text_under"]
