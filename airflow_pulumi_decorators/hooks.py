"""``PulumiHook``: the hook class Airflow requires behind the ``pulumi`` connection type.

Tasks do not need it (:func:`airflow_pulumi_decorators.prepare.backend.resolve` reads the connection at
task start); it gives the connection form its labels on Airflow < 3.2, validates a connection from the
UI's *Test* button without any network call, and returns the parsed connection to your own code.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_pulumi_decorators.connections import (
    CONN_TYPE,
    PulumiConnection,
    get_pulumi_connection,
)
from airflow_pulumi_decorators.errors import ConfigurationError


class PulumiHook(BaseHook):
    """Reads a ``pulumi`` connection.

    :param pulumi_conn_id: the connection id.
    """

    conn_name_attr = "pulumi_conn_id"
    default_conn_name = "pulumi_default"
    conn_type = CONN_TYPE
    hook_name = "Pulumi"

    def __init__(self, pulumi_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pulumi_conn_id = pulumi_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form for Airflow < 3.2 (newer versions read the provider info instead)."""
        from airflow_pulumi_decorators.provider import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    def get_conn(self) -> PulumiConnection:
        """The parsed, validated connection."""
        return get_pulumi_connection(self.pulumi_conn_id, setting="PulumiHook(pulumi_conn_id=...)")

    def test_connection(self) -> tuple[bool, str]:
        """Validate the connection's fields (no network call)."""
        import warnings

        # The admin pressing *Test* is who can rename a deprecated extra: say so in the form, not only in a log.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FutureWarning)
            try:
                conn = self.get_conn()
            except ConfigurationError as exc:
                return False, str(exc)
        notes = [f"; {w.message}" for w in caught if issubclass(w.category, FutureWarning)]
        return True, f"valid pulumi connection; backend {conn.backend_url or '(worker default)'}" + "".join(notes)
