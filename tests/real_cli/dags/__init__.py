"""The DAG files of the real-CLI tests, given their parameters as those of ``tests/integration/dags/`` are
(:mod:`tests.integration.dags.dagparams`)."""
