"""Tests of the ``airflow_pulumi_decorators.cli`` package, one module per module."""
