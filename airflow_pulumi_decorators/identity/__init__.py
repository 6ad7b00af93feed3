"""Where the Pulumi engine's short-lived Google Cloud credential comes from, and how it is handed over.

Identities (frozen, validated when the DAG file is parsed; nothing here touches the network):

* :class:`GkeMetadataServer` -- GKE Workload Identity / the metadata server;
* :class:`WorkloadIdentityFederation` -- an ``external_account`` credential configuration (STS);
* :class:`ServiceAccountImpersonation` -- act as a service account, on top of another identity;
* :class:`ApplicationDefault` -- whatever ADC the machine has (local development);
* :func:`identity_from_connection` -- an Airflow ``google_cloud_platform`` connection, read at task start.

Each says what the engine runs with in each :class:`CredentialMode` (``Identity.engine_env``);
:func:`obtain_engine_credentials` obtains the credential at task start and hands it over.

Importing this package imports neither ``google.auth`` nor ``airflow.sdk`` (nor ``pulumi``/``grpc``).
"""

from airflow_pulumi_decorators.identity.adc import ApplicationDefault
from airflow_pulumi_decorators.identity.base import DEFAULT_SCOPES, IAM_SCOPE, MAX_LIFETIME_SECONDS, Identity
from airflow_pulumi_decorators.identity.connection import (
    ConnectionIdentity,
    FromConnection,
    identity_from_connection,
    identity_from_extras,
)
from airflow_pulumi_decorators.identity.engine_env import CREDENTIAL_ENV_VARS, CredentialMode
from airflow_pulumi_decorators.identity.federation import WorkloadIdentityFederation
from airflow_pulumi_decorators.identity.handoff import LIFETIME_MARGIN, EngineCredentials, obtain_engine_credentials
from airflow_pulumi_decorators.identity.impersonation import ServiceAccountImpersonation
from airflow_pulumi_decorators.identity.metadata import GkeMetadataServer

__all__ = [
    "CREDENTIAL_ENV_VARS",
    "DEFAULT_SCOPES",
    "IAM_SCOPE",
    "LIFETIME_MARGIN",
    "MAX_LIFETIME_SECONDS",
    "ApplicationDefault",
    "ConnectionIdentity",
    "CredentialMode",
    "EngineCredentials",
    "FromConnection",
    "GkeMetadataServer",
    "Identity",
    "ServiceAccountImpersonation",
    "WorkloadIdentityFederation",
    "identity_from_connection",
    "identity_from_extras",
    "obtain_engine_credentials",
]
