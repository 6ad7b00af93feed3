"""One task whose environment has an identity, on a stand-in engine that records what ``pulumi up`` was
given: the credential variables (an access token only as its SHA-256) and the credential file, written to
the file ``record`` (``test_identity_dags.py``).

Parameters: ``identity`` (a description, see :func:`build_identity`), ``mode`` (the credential mode),
``config`` (the environment's config), ``execution_timeout`` (``datetime.timedelta`` keywords, or none),
``body`` (``ok``, or ``raises`` after declaring a resource).
"""

import datetime
import hashlib
import json
import os

import pendulum
import pulumi
from airflow.sdk import dag

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.identity import (
    GkeMetadataServer,
    ServiceAccountImpersonation,
    WorkloadIdentityFederation,
    identity_from_connection,
)
from airflow_pulumi_decorators.testing import StandinCommand
from tests.integration.dags.dagparams import dag_params

PARAMS = dag_params(__file__)
RECORD = PARAMS.get("record", "/tmp/apd-identity-engine-up.json")
CREDENTIAL_PREFIXES = ("GOOGLE_", "GCE_", "CLOUDSDK_", "GCLOUD_")


def build_identity(spec):
    """The identity a description names: ``{"kind": "metadata", "metadata_host": ...}``, ``{"kind":
    "federation", "config": {...}}``, ``{"kind": "connection", "conn_id": ...}`` or ``{"kind":
    "impersonation", "target": ..., "source": <description>, "delegates", "lifetime" (seconds, or
    ``datetime.timedelta`` keywords), "iam_endpoint"}``."""
    kind = spec["kind"]
    if kind == "metadata":
        return GkeMetadataServer(**({"metadata_host": spec["metadata_host"]} if "metadata_host" in spec else {}))
    if kind == "federation":
        return WorkloadIdentityFederation(spec["config"])
    if kind == "connection":
        return identity_from_connection(spec["conn_id"])
    if kind == "impersonation":
        kwargs = {key: spec[key] for key in ("delegates", "lifetime", "iam_endpoint") if key in spec}
        if isinstance(kwargs.get("lifetime"), dict):
            kwargs["lifetime"] = datetime.timedelta(**kwargs["lifetime"])
        return ServiceAccountImpersonation(spec["target"], source=build_identity(spec["source"]), **kwargs)
    raise ValueError(f"unknown identity kind {kind!r}")


class RecordingEngine(StandinCommand):
    """The stand-in engine, recording what `pulumi up` was given (credential values as SHA-256 only)."""

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        if "up" in args:
            env = {}
            for name, value in additional_env.items():
                if name.startswith(CREDENTIAL_PREFIXES):
                    if value is not None and name == "GOOGLE_OAUTH_ACCESS_TOKEN":
                        value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
                    env[name] = value
            snapshot = None
            path = additional_env.get("GOOGLE_APPLICATION_CREDENTIALS")
            if path:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                snapshot = {
                    "path": path,
                    "mode": os.stat(path).st_mode & 0o777,
                    "dir_mode": os.stat(os.path.dirname(path)).st_mode & 0o777,
                    "config": json.loads(text),
                    "sha256": hashlib.sha256(text.encode()).hexdigest(),
                }
            with open(RECORD, "w", encoding="utf-8") as handle:
                json.dump({"env": env, "file": snapshot}, handle)
        return super().run(args, cwd, additional_env, on_output, on_error)


ENGINE = RecordingEngine()
IDENTITY = build_identity(PARAMS.get("identity", {"kind": "metadata"}))
ENVS = {"dev": Environment(stack="dev", config=PARAMS.get("config", {}), identity=IDENTITY,
                           credential_mode=PARAMS.get("mode", "token"))}
TIMEOUT = datetime.timedelta(**PARAMS["execution_timeout"]) if PARAMS.get("execution_timeout") else None
BODY = PARAMS.get("body", "ok")


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="ident", environments=ENVS, pulumi_command=ENGINE, execution_timeout=TIMEOUT)
    def infra():
        import pulumi_random as random

        pet = random.RandomPet("pet", length=2)
        if BODY == "raises":
            raise RuntimeError("program failed on purpose after declaring " + pet._name)
        return {
            "pet": pet.id,
            "project": pulumi.Config("gcp").get("project") or "unset",
            "token_in_program": os.environ.get("GOOGLE_OAUTH_ACCESS_TOKEN", "absent"),
        }

    infra()


the_dag = d()
