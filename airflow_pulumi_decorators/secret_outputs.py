"""Resolving references to secret stack outputs in the task that reads them.

A task with ``secret_outputs="reference"`` pushes, for each secret output, a :class:`~.outputs.SecretOutputRef`
(project, stack, backend, key — never the value). The reading task resolves it here, in its own process:
the same ``pulumi`` connection (access token, passphrase), backend and per-task ``PULUMI_HOME`` as a stack task
(:mod:`~airflow_pulumi_decorators.prepare`), then the engine reads the stack's outputs from its state
(:meth:`~airflow_pulumi_decorators.engine.Engine.outputs`), and every secret part of the value is registered
with Airflow's secret masker before the value is returned — before anything can log or render it.

Nothing is shared between processes or kept after a call: any worker that has the connection and the
backend's credentials resolves a reference. :class:`~airflow_pulumi_decorators.xcom_backend.PulumiSecretXCom`
calls :func:`resolve_references` for every XCom value a task reads; :func:`resolve_secret_output` is the
explicit way, for deployments that keep their own XCom backend.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from airflow_pulumi_decorators.errors import (
    ConfigurationError,
    IdentityError,
    PulumiEngineError,
    SecretOutputAccessError,
    SecretOutputError,
    SecretOutputNotFoundError,
    SecretOutputNotSecretError,
    SecretOutputWithheldError,
    StackNotFoundError,
    WrongPassphraseError,
)
from airflow_pulumi_decorators.outputs import (
    SecretOutputRef,
    StackOutput,
    describe_withheld,
    has_secret,
    is_secret_reference,
    is_withheld_output,
    public_backend_url,
    secret_parts,
)

log = logging.getLogger(__name__)

__all__ = ["refuse_withheld", "resolve_references", "resolve_secret_output"]

#: Airflow's masker leaves shorter values alone (``[logging] min_length_masked_secret``, default 5).
MIN_MASKED_LENGTH = 5


def _mask(value: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(value)


def refuse_withheld(value: Any) -> None:
    """Fail when ``value`` is the marker of a secret output its producing task withheld from XCom.

    Only the value itself is checked, not what it contains: a task reading the producer's whole ``return_value``
    (a dict that also holds the plain outputs) still gets it, the marker in place of the withheld output.

    :param value: an XCom value as read.
    :raises SecretOutputWithheldError: naming the output and ``secret_outputs="reference"``.
    """
    if is_withheld_output(value):
        raise SecretOutputWithheldError(
            f"the XCom read is the secret stack output {describe_withheld(value)}, which its producing task withheld "
            "from XCom (its value was never stored). Set secret_outputs=\"reference\" on the producing task to hand "
            "it to downstream tasks (docs/outputs.md, 'Passing a secret downstream')",
            reference=describe_withheld(value),
        )


def resolve_secret_output(
    reference: Mapping[str, Any],
    *,
    cli_path: str | None = None,
    pulumi_command: Any = None,
    mask: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """The value of the secret output ``reference`` names, read from the stack's state and registered with
    Airflow's secret masker before it is returned.

    Call it in the task that needs the value (never at DAG parse time)::

        @task
        def load(password_ref):
            password = resolve_secret_output(password_ref)

    :param reference: the XCom value a ``secret_outputs="reference"`` task pushed for the output.
    :param cli_path: the ``pulumi`` executable; defaults to ``[pulumi] cli_path``, then PATH.
    :param pulumi_command: a ready ``PulumiCommand`` to use instead of a CLI (as the stack task's).
    :param mask: registers a value with the secret masker (default ``airflow.sdk.log.mask_secret``).
    :param environ: the worker's environment (default ``os.environ``).
    :raises SecretReferenceError: ``reference`` is not a reference this version reads.
    :raises SecretOutputNotFoundError: the stack, or the output in it, no longer exists.
    :raises SecretOutputAccessError: this task cannot open the state or decrypt it (connection, passphrase,
        backend credentials).
    :raises SecretOutputNotSecretError: the output is no longer secret.
    """
    refuse_withheld(reference)
    ref = SecretOutputRef.from_xcom(reference)
    masker = mask or _mask
    outputs = _read(ref, cli_path=cli_path, pulumi_command=pulumi_command, environ=environ, mask=masker)
    return _value(ref, outputs, masker)


def resolve_references(
    value: Any,
    *,
    cli_path: str | None = None,
    pulumi_command: Any = None,
    mask: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """``value`` with every secret-output reference in it (at any depth of dicts and lists) replaced by the
    output's value, each registered with the secret masker first; a value without one is returned as is.
    Each stack is read once, however many of its outputs are referenced.

    Parameters and errors as :func:`resolve_secret_output`; ``value`` that is itself a withheld output's marker
    raises :class:`~airflow_pulumi_decorators.errors.SecretOutputWithheldError` (:func:`refuse_withheld`).
    """
    refuse_withheld(value)
    cache: dict[SecretOutputRef, dict[str, StackOutput]] = {}
    masker = mask or _mask

    def walk(item: Any) -> Any:
        if is_secret_reference(item):
            ref = SecretOutputRef.from_xcom(item)
            where = _same_stack(ref)
            if where not in cache:
                cache[where] = _read(ref, cli_path=cli_path, pulumi_command=pulumi_command, environ=environ,
                                     mask=masker)
            return _value(ref, cache[where], masker)
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def _same_stack(ref: SecretOutputRef) -> SecretOutputRef:
    """The reference with its key and producer cleared: one read serves every output of a stack read the same
    way."""
    return SecretOutputRef(project=ref.project, stack=ref.stack, key="-", backend=ref.backend,
                           pulumi_conn_id=ref.pulumi_conn_id, identity_conn_id=ref.identity_conn_id,
                           identity_kind=ref.identity_kind)


def _value(ref: SecretOutputRef, outputs: Mapping[str, StackOutput], mask: Callable[[str], None]) -> Any:
    """The referenced output's value, its secret parts masked first."""
    output = outputs.get(ref.key)
    if output is None:
        raise SecretOutputNotFoundError(
            f"{ref.describe()} is gone: the stack has no output {ref.key!r} now (its outputs: "
            f"{', '.join(sorted(outputs)) or 'none'}). The program stopped returning it, or the stack was emptied, "
            f"after {ref.producer} pushed the reference. Re-run {ref.producer} (clear it together with this task) "
            "so the reference and the stack agree, or read an output the program still returns.",
            reference=ref.describe(),
        )
    if not has_secret(output.masked):
        raise SecretOutputNotSecretError(
            f"{ref.describe()} is not secret in the stack's state any more: the program changed since "
            f"{ref.producer} pushed the reference, and the value is now stored in plain text. Make it secret again "
            "(return pulumi.Output.secret(...), or read it from secret config) and re-run the producer; the value "
            "is not handed out through a secret reference while it is not secret.",
            reference=ref.describe(),
        )
    for text in sorted(set(secret_parts(output.masked, output.value)), key=len, reverse=True):
        mask(text)
        if len(text) < MIN_MASKED_LENGTH:
            log.warning(
                "pulumi: a secret part of output %r is shorter than %d characters; Airflow's masker does not "
                "mask values that short ([logging] min_length_masked_secret)", ref.key, MIN_MASKED_LENGTH,
            )
    log.info("pulumi: resolved %s from the stack's state; registered with the secret masker", ref.describe())
    return output.value


def _read(
    ref: SecretOutputRef, *, cli_path: str | None, pulumi_command: Any, environ: Mapping[str, str] | None,
    mask: Callable[[str], None],
) -> dict[str, StackOutput]:
    """The referenced stack's outputs, read the way its task reached the stack; our errors name the reference."""
    from airflow_pulumi_decorators import settings
    from airflow_pulumi_decorators.engine import Engine
    from airflow_pulumi_decorators.environments import Environment
    from airflow_pulumi_decorators.prepare import backend
    from airflow_pulumi_decorators.prepare.credentials import engine_credential

    environ = os.environ if environ is None else environ
    try:
        env = Environment(stack=ref.stack, pulumi_conn_id=ref.pulumi_conn_id,
                          backend_url=_backend_url(ref, environ), identity=_identity(ref))
        with backend.resolve(env, mask=mask, project=ref.project, environ=environ) as where, engine_credential(
            env, execution_timeout=None, mask=mask, log=log
        ) as credential:
            engine = Engine(cli_path=cli_path or settings.get_option("cli_path"), pulumi_command=pulumi_command,
                            on_output=log.info)
            context = where.context.with_env(credential.env if credential else {})
            return engine.outputs(ref.project, where.stack, context)
    except StackNotFoundError as exc:
        raise SecretOutputNotFoundError(
            f"{ref.describe()} cannot be read: the stack no longer exists in that backend (destroyed and removed, "
            f"or renamed) since {ref.producer} pushed the reference. Re-run {ref.producer} (clear it together "
            "with this task) to deploy the stack again, or drop this task's use of the output.",
            reference=ref.describe(),
        ) from exc
    except WrongPassphraseError as exc:
        raise SecretOutputAccessError(
            f"{ref.describe()} cannot be decrypted by this task: the passphrase from {exc.source} is not the "
            f"stack's. Give this task the passphrase {ref.producer} used: {_connection_hint(ref)}.",
            reference=ref.describe(),
        ) from exc
    except IdentityError as exc:
        raise SecretOutputAccessError(
            f"{ref.describe()} cannot be read by this task: the Google Cloud credential of "
            f"{exc.identity or 'the identity'} could not be obtained ({_first_line(exc)}). The reference names the "
            f"identity {ref.producer} used; this worker must be able to obtain it too.",
            reference=ref.describe(),
        ) from exc
    except ConfigurationError as exc:
        raise SecretOutputAccessError(
            f"{ref.describe()} cannot be read by this task: {_first_line(exc)}. This task reads the state the way "
            f"{ref.producer} wrote it and needs the same access: {_connection_hint(ref)}, and the backend's "
            "credentials on this worker.",
            reference=ref.describe(),
        ) from exc
    except PulumiEngineError as exc:
        raise SecretOutputError(
            f"{ref.describe()} could not be read by this task: {_first_line(exc)}",
            reference=ref.describe(),
        ) from exc


def _identity(ref: SecretOutputRef) -> Any:
    """The producer's identity when it was an Airflow connection (the reader obtains its own credential from
    it), else ``None``: the worker's own credentials."""
    if not ref.identity_conn_id:
        return None
    from airflow_pulumi_decorators.identity.connection import FromConnection

    return FromConnection(ref.identity_conn_id, kind=ref.identity_kind)


def _backend_url(ref: SecretOutputRef, environ: Mapping[str, str]) -> str | None:
    """The backend URL to open: the reference's, or — when it had user info or a query the reference does not
    carry — the one this worker configures (connection, ``PULUMI_BACKEND_URL``, ``[pulumi] backend_url``) that
    is the same backend."""
    if ref.backend is None:
        return None
    from airflow_pulumi_decorators import settings
    from airflow_pulumi_decorators.connections import get_pulumi_connection

    candidates: list[str | None] = []
    if ref.pulumi_conn_id:
        try:
            conn = get_pulumi_connection(ref.pulumi_conn_id, setting="the reference's pulumi_conn_id")
        except ConfigurationError:
            conn = None  # reported by backend.resolve, which reads it again
        candidates.append(conn.backend_url.url if conn is not None and conn.backend_url is not None else None)
    candidates += [environ.get("PULUMI_BACKEND_URL"), settings.get_option("backend_url")]
    for url in candidates:
        if url and public_backend_url(url.strip()) == ref.backend:
            return url.strip()
    return ref.backend


def _connection_hint(ref: SecretOutputRef) -> str:
    if ref.pulumi_conn_id:
        return (f"the Airflow connection {ref.pulumi_conn_id!r} must exist for this task (its extra "
                "'config_passphrase', or PULUMI_CONFIG_PASSPHRASE(_FILE) on this worker)")
    return ("set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) on this worker as on the producer's, "
            "or give the producer's environment a pulumi connection (Environment(pulumi_conn_id=...)) that "
            "every worker reads")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
