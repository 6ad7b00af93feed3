"""The DAG files the integration tests run. A test copies one into the dags folder and gives it its
parameters in a JSON file beside the copy (:mod:`tests.integration.dags.dagparams`)."""
