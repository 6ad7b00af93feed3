"""Users for the Pulumi view's tests, and the one thing Airflow's simple auth manager cannot say: "this user
may not read that DAG" (it grants by role to every DAG, or by team in multi-team mode). ``DagScopedAuthManager``
is the simple auth manager with a deny list, ``APD_UI_DENIED_DAGS="bob:dag_a|dag_b;carol:dag_c"``, which the
view must honour through the auth manager's own ``get_authorized_dag_ids`` / ``is_authorized_dag``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

#: name -> (role, password)
USERS = {"alice": ("admin", "alice-pw-31"), "bob": ("viewer", "bob-pw-47"), "carol": ("viewer", "carol-pw-59")}
CLASS_PATH = "tests.ui.auth.DagScopedAuthManager"


def _denied() -> dict[str, set[str]]:
    denied: dict[str, set[str]] = {}
    for entry in filter(None, os.environ.get("APD_UI_DENIED_DAGS", "").split(";")):
        user, _, dags = entry.partition(":")
        denied[user] = set(filter(None, dags.split("|")))
    return denied


class DagScopedAuthManager(SimpleAuthManager):
    """The simple auth manager, minus the DAGs ``APD_UI_DENIED_DAGS`` denies to a user."""

    def is_authorized_dag(self, *, method, user, access_entity=None, details=None):  # type: ignore[override]
        if details is not None and details.id and details.id in _denied().get(user.get_name(), set()):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)


def auth_environment(folder: Path, denied: str = "") -> dict[str, str]:
    """The variables that configure the users (a passwords file in ``folder``) and the auth manager."""
    passwords = folder / "passwords.json"
    passwords.write_text(json.dumps({name: pw for name, (_, pw) in USERS.items()}))
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": CLASS_PATH,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{role}" for n, (role, _) in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "APD_UI_DENIED_DAGS": denied,
    }
