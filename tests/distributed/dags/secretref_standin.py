"""The Airflow DAG of the secret-output scenario (``secretref.py``) on the stand-in: ``secretref__standin``."""

from secretref import configure

configure("standin")
