"""``PulumiSecretXCom``: Airflow's XCom backend, plus references to secret stack outputs resolved in the task
that reads them.

Configure it on every worker (and anywhere tasks run)::

    [core]
    xcom_backend = airflow_pulumi_decorators.xcom_backend.PulumiSecretXCom

Storing is Airflow's own (a reference is a small JSON dict, and that is what the metadata database holds).
Reading, in a task process, refuses a withheld secret output's marker read on its own
(:class:`~airflow_pulumi_decorators.errors.SecretOutputWithheldError`, naming ``secret_outputs="reference"``) and
resolves each reference through
:func:`~airflow_pulumi_decorators.secret_outputs.resolve_references`: the value is read from the stack's state
and registered with the secret masker before Airflow renders a template or calls the task with it. TaskFlow
arguments, ``ti.xcom_pull`` in templated fields and mapped tasks all read XCom through this class.

The api-server and the UI never use it: they read the database directly (``XComModel``) and show the
reference. Importing this module loads only Airflow's ``BaseXCom`` (the resolution is imported on first use).
"""

from __future__ import annotations

from typing import Any

from airflow_pulumi_decorators._airflow import base_xcom
from airflow_pulumi_decorators.outputs import REF_MARKER, is_withheld_output

#: Airflow's own XCom backend class (reached through the compat module: it is not in ``airflow.sdk``).
BaseXCom: Any = base_xcom()


def _has_reference(value: Any) -> bool:
    if isinstance(value, dict):
        return REF_MARKER in value or any(_has_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_reference(v) for v in value)
    return False


class PulumiSecretXCom(BaseXCom):  # type: ignore[misc]  # Airflow ships no types for it here
    """Airflow's ``BaseXCom`` whose ``deserialize_value`` resolves references to secret stack outputs (and
    masks their values) in the task process; everything else is Airflow's.

    To combine it with another XCom backend, call
    :func:`~airflow_pulumi_decorators.secret_outputs.resolve_references` on what that backend's
    ``deserialize_value`` returns.
    """

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        value = BaseXCom.deserialize_value(result)
        if not _has_reference(value) and not is_withheld_output(value):
            return value
        # A withheld secret output read on its own (``infra["password"]``) fails there, naming the fix, rather than
        # reaching the task as if its marker were the value.
        from airflow_pulumi_decorators.secret_outputs import resolve_references

        return resolve_references(value)
