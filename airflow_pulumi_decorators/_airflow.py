"""The one place that touches Airflow internals: anything outside ``airflow.sdk``'s public top-level API.

Airflow 3.1–3.3 moves these names between releases and gives them no stability promise, so each is reached
through one small function here, imported inside it (parsing a DAG imports nothing until a function runs):

- :func:`determine_kwargs` – which context keys a program's signature accepts, exactly as ``@task`` passes them.
- :func:`in_dag_context` – whether a ``with DAG(...)`` / ``@dag`` body is being evaluated; Airflow exposes no
  public question for it, and a task created outside one silently never runs.
- :func:`xcom_value` – an XCom read by task-instance key, for an operator link (which gets no context).
- :func:`approval_operator` – the HITL ``ApprovalOperator`` of the standard provider (Airflow >= 3.1).
- :func:`config_get` – Airflow's configuration (``airflow.sdk.configuration`` since 3.1, ``airflow.configuration``
  before).
- :func:`base_xcom` – the Task SDK's ``BaseXCom``, the base of a custom XCom backend (not in ``airflow.sdk``'s
  top level).
- :func:`masked_by_airflow` – whether the secret masker would hide a value (plan binding keys such inputs).
- :func:`api_server` – for the Pulumi view's app on the api-server: the auth manager, the DB session and
  current-user dependencies of Airflow's FastAPI API.
- :func:`metadata_models` – the metadata database's ``XComModel``, ``TaskInstance``, ``AssetEvent`` and
  ``AssetModel``, which the Pulumi view reads.
- :func:`plugin_base` – ``AirflowPlugin`` (the Task SDK's, else airflow-core's).
- :func:`not_found_exception` – what ``BaseHook.get_connection`` raises for a missing connection
  (``airflow.sdk.exceptions``, ``airflow.exceptions`` in older task SDKs).

Public ``airflow.sdk`` names (``BaseOperator``, ``BaseHook``, ``XComArg``, ``Asset``, ``get_current_context``,
``airflow.sdk.log.mask_secret``) and the documented decorator extension API (``airflow.sdk.bases.decorator``'s
``DecoratedOperator`` and ``task_decorator_factory``) are imported where they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any


def determine_kwargs(
    function: Callable[..., Any], args: Collection[Any], kwargs: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The keyword arguments ``function`` takes from ``kwargs`` (context and call merged), as ``@task`` passes them.

    :param function: the program.
    :param args: its positional arguments (those parameters are not filled from ``kwargs``).
    :param kwargs: the candidates.
    """
    from airflow.sdk.bases.decorator import determine_kwargs as airflow_determine_kwargs

    return airflow_determine_kwargs(function, args, kwargs)


def in_dag_context() -> bool:
    """Whether a DAG body (``with DAG(...)`` or a ``@dag`` function) is being evaluated right now."""
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    return DagContext.get_current() is not None


def xcom_value(ti_key: Any, key: str) -> Any:
    """The value of one XCom of a task instance (``None`` when there is none).

    :param ti_key: the task instance's key (what an operator link's ``get_link`` receives).
    :param key: the XCom key.
    """
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_value(ti_key=ti_key, key=key)


def base_xcom() -> type:
    """The Task SDK's ``BaseXCom``, which ``[core] xcom_backend`` classes extend."""
    from airflow.sdk.bases.xcom import BaseXCom

    return BaseXCom


def approval_operator() -> type:
    """The standard provider's ``ApprovalOperator``.

    :raises ImportError: on Airflow < 3.1 or without ``apache-airflow-providers-standard``.
    """
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    return ApprovalOperator


def config_get(section: str, key: str, fallback: str | None = None) -> Any:
    """One option from Airflow's configuration (its files and ``AIRFLOW__SECTION__KEY`` variables).

    :param section: e.g. ``pulumi``.
    :param key: the option.
    :param fallback: returned when it is not set.
    """
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - Airflow < 3.1 exposes it elsewhere
        from airflow.configuration import conf
    return conf.get(section, key, fallback=fallback)


def not_found_exception() -> type[Exception]:
    """The exception ``airflow.sdk.BaseHook.get_connection`` raises for a connection that does not exist."""
    try:
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - older task SDKs
        from airflow.exceptions import AirflowNotFoundException  # type: ignore[attr-defined]  # re-exported there
    return AirflowNotFoundException


def unmapped_copy(task: Any) -> bool:
    """Whether ``task`` is the copy Airflow makes of a mapped task to run one map index (``MappedOperator.unmap``).

    Such a copy is not one of the DAG's tasks: the mapped task stands in the DAG for all of its copies.
    """
    return bool(getattr(task, "_BaseOperator__from_mapped", False))


def masked_by_airflow(value: Any) -> bool:
    """Whether Airflow's secret masker would hide anything of ``value`` (a registered secret, a sensitive key such
    as ``password``); ``False`` where the masker cannot be reached (``airflow.sdk._shared``, not public API)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # pragma: no cover - a Task SDK that moved it
        return False
    try:
        return bool(redact(value) != value)
    except Exception:  # noqa: BLE001 - a value the masker cannot walk: treat it as secret, the safe side
        return True


def api_server() -> tuple[Callable[[], Any], Any, Any]:
    """What an app mounted on Airflow's api-server needs of its FastAPI API.

    :return: ``get_auth_manager``, ``SessionDep`` (a DB session dependency) and ``GetUserDep`` (the
        authenticated user; 401 without a valid token).
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.common.db.common import SessionDep
    from airflow.api_fastapi.core_api.security import GetUserDep

    return get_auth_manager, SessionDep, GetUserDep


def metadata_models() -> Any:
    """The metadata database's models the Pulumi view reads, as attributes ``XComModel``, ``TaskInstance``,
    ``AssetEvent`` and ``AssetModel``."""
    from types import SimpleNamespace

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    return SimpleNamespace(XComModel=XComModel, TaskInstance=TaskInstance, AssetEvent=AssetEvent,
                           AssetModel=AssetModel)


def plugin_base() -> type:
    """``AirflowPlugin``: the Task SDK's (the one providers use), else airflow-core's; Airflow matches plugin
    classes by name, so either loads."""
    try:
        from airflow.sdk.plugins_manager import AirflowPlugin
    except ImportError:  # pragma: no cover - an airflow-core without the Task SDK
        from airflow.plugins_manager import AirflowPlugin  # type: ignore[assignment]
    return AirflowPlugin
