"""The DAG files the fault scenarios run (``test_faults.py``), given their parameters as those of
``tests/integration/dags/`` are (:mod:`tests.integration.dags.dagparams`)."""
