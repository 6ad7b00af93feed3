"""The Airflow DAG of the secret-output scenario (``secretref.py``) on the real CLI: ``secretref__real``."""

from secretref import configure

configure("real")
