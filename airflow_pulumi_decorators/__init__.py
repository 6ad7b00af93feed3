"""airflow-pulumi-decorators: infrastructure as a first-class Airflow task.

Importing this package is cheap: Airflow imports it in every process (provider discovery) and DAG files
import it on every parse, so nothing here loads ``airflow.sdk``, Pulumi, google-auth or gRPC. The
decorator and operator are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_pulumi_decorators.environments import Environment
from airflow_pulumi_decorators.errors import (
    BackendAccessError,
    CliInstallError,
    ConcurrentUpdateError,
    ConfigurationError,
    CredentialLifetimeError,
    DriftDetectedError,
    IdentityError,
    OperationInterruptedError,
    OutputError,
    OutputValueError,
    PlanChangedError,
    PluginInstallError,
    PolicyViolationError,
    ProgramError,
    ProtectedStackError,
    PulumiCliNotFoundError,
    PulumiDecoratorError,
    PulumiEngineError,
    ReservedOutputNameError,
    SecretOutputAccessError,
    SecretOutputError,
    SecretOutputNotFoundError,
    SecretOutputNotSecretError,
    SecretOutputWithheldError,
    SecretReferenceError,
    StackNotFoundError,
    StateCorruptError,
    UnknownEnvironmentError,
    WrongPassphraseError,
)

if TYPE_CHECKING:
    from airflow_pulumi_decorators.decorators import pulumi_stack
    from airflow_pulumi_decorators.operations import OperationOptions
    from airflow_pulumi_decorators.operator import PulumiStackOperator
    from airflow_pulumi_decorators.secret_outputs import resolve_secret_output

__version__ = "0.1.0.dev0"

__all__ = [
    "BackendAccessError",
    "CliInstallError",
    "ConcurrentUpdateError",
    "ConfigurationError",
    "CredentialLifetimeError",
    "DriftDetectedError",
    "Environment",
    "IdentityError",
    "OperationInterruptedError",
    "OperationOptions",
    "OutputError",
    "OutputValueError",
    "PluginInstallError",
    "PlanChangedError",
    "PolicyViolationError",
    "ProgramError",
    "ProtectedStackError",
    "PulumiCliNotFoundError",
    "PulumiDecoratorError",
    "PulumiEngineError",
    "PulumiStackOperator",
    "ReservedOutputNameError",
    "SecretOutputAccessError",
    "SecretOutputError",
    "SecretOutputNotFoundError",
    "SecretOutputNotSecretError",
    "SecretOutputWithheldError",
    "SecretReferenceError",
    "StackNotFoundError",
    "StateCorruptError",
    "UnknownEnvironmentError",
    "WrongPassphraseError",
    "pulumi_stack",
    "resolve_secret_output",
]

_LAZY = {
    "pulumi_stack": "airflow_pulumi_decorators.decorators",
    "PulumiStackOperator": "airflow_pulumi_decorators.operator",
    "OperationOptions": "airflow_pulumi_decorators.operations",
    "resolve_secret_output": "airflow_pulumi_decorators.secret_outputs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_pulumi_decorators' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
