"""gRPC side of a deployment: ResourceMonitor + Engine servers, LanguageRuntime client.

Only loopback (127.0.0.1) connections are made: our servers bind to
``127.0.0.1:0`` and we dial the SDK's LanguageServer at the ``--client``
address it gave us.
"""

from __future__ import annotations

import time
from concurrent import futures
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    language_pb2,
    language_pb2_grpc,
    provider_pb2,
    resource_pb2,
    resource_pb2_grpc,
)

from . import props
from .config import config_string
from .constants import DEFAULT_ORG, RESOURCE_SIG, SIG_KEY
from .sink import CancelledError, StandinError

if TYPE_CHECKING:
    from .engine import Deployment

_GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]

#: Monitor features the stand-in implements. Not claimed: aliasSpecs (the SDK
#: then sends computed alias URNs, which we honour), transforms, invoke
#: transforms, parameterization, hooks, byte strings, invoke dependsOn.
SUPPORTED_FEATURES = {
    "secrets": resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
    "resourceReferences": resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
    "outputValues": resource_pb2.RESOURCE_MONITOR_FEATURE_OUTPUT_VALUES,
    "deletedWith": resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
}

_SEVERITY = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}

#: How long to wait for the program to stop after a cancellation request.
CANCEL_GRACE_SECONDS = 30.0


def struct_to_python(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    """Decode a protobuf Struct into normalised Python values.

    :param struct: Struct (may be None).
    """
    if struct is None:
        return {}
    values: dict[str, Any] = props.normalize(json_format.MessageToDict(struct))
    return values


def python_to_struct(value: dict[str, Any], accept_secrets: bool, accept_resources: bool) -> struct_pb2.Struct:
    """Encode outputs for a response, downgrading what the caller can't accept.

    :param value: In-memory property map.
    :param accept_secrets: Caller understands secret signatures.
    :param accept_resources: Caller understands resource references.
    """
    if not accept_secrets:
        value = props.reveal(value)
    if not accept_resources:
        value = _resource_refs_to_ids(value)
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _resource_refs_to_ids(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == RESOURCE_SIG:
            return value.get("id") or value.get("urn")
        return {k: _resource_refs_to_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resource_refs_to_ids(v) for v in value]
    return value


def _abort(context: grpc.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, CancelledError):
        # UNAVAILABLE is what a real engine's monitor gives a program while it
        # shuts down; the SDK then stops quietly instead of reporting a bug.
        context.abort(grpc.StatusCode.UNAVAILABLE, "update canceled")
    message = exc.message if isinstance(exc, StandinError) else f"stand-in engine error: {exc!r}"
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)


class MonitorServicer(resource_pb2_grpc.ResourceMonitorServicer):
    """``pulumirpc.ResourceMonitor`` backed by a :class:`Deployment`.

    :param dep: The running deployment.
    """

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep

    def GetDeploymentInfo(  # noqa: N802 - gRPC naming
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> resource_pb2.DeploymentInfo:
        config = {k: config_string(v) for k, (v, _) in self.dep.config.items()}
        return resource_pb2.DeploymentInfo(
            project=self.dep.ref.project,
            stack=self.dep.ref.name,
            organization=DEFAULT_ORG,
            config=config,
            configSecretKeys=[k for k, (_, s) in self.dep.config.items() if s],
            dryRun=self.dep.dry_run,
            parallel=_parallel(self.dep),
            supportedFeatures=sorted(SUPPORTED_FEATURES.values()),
        )

    def SupportsFeature(  # noqa: N802
        self, request: resource_pb2.SupportsFeatureRequest, context: grpc.ServicerContext
    ) -> resource_pb2.SupportsFeatureResponse:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in SUPPORTED_FEATURES)

    def RegisterResource(  # noqa: N802
        self, request: resource_pb2.RegisterResourceRequest, context: grpc.ServicerContext
    ) -> resource_pb2.RegisterResourceResponse:
        try:
            extra: dict[str, Any] = {}
            if request.protect:
                extra["protect"] = True
            if request.provider:
                extra["provider"] = request.provider
            if request.dependencies:
                extra["dependencies"] = list(request.dependencies)
            if request.propertyDependencies:
                extra["propertyDependencies"] = {
                    k: list(v.urns) for k, v in request.propertyDependencies.items()
                }
            if request.deletedWith:
                extra["deletedWith"] = request.deletedWith
            if request.retainOnDelete:
                extra["retainOnDelete"] = True
            if request.additionalSecretOutputs:
                extra["additionalSecretOutputs"] = list(request.additionalSecretOutputs)
            if request.ignoreChanges:
                extra["ignoreChanges"] = list(request.ignoreChanges)
            entry = self.dep.register(
                request.type,
                request.name,
                request.parent,
                request.custom,
                props.skip_nulls(struct_to_python(request.object)),
                extra,
                list(request.aliasURNs),
                list(request.additionalSecretOutputs),
                request.version,
            )
            return resource_pb2.RegisterResourceResponse(
                urn=entry["urn"],
                id=entry.get("id", "") if request.custom else "",
                object=python_to_struct(
                    entry.get("outputs") or {}, request.acceptSecrets, request.acceptResources
                ),
                result=resource_pb2.SUCCESS,
            )
        except Exception as exc:  # noqa: BLE001 - reported to the program via gRPC status
            _abort(context, exc)

    def RegisterResourceOutputs(  # noqa: N802
        self, request: resource_pb2.RegisterResourceOutputsRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.dep.register_outputs(request.urn, struct_to_python(request.outputs))
        return empty_pb2.Empty()

    def ReadResource(  # noqa: N802
        self, request: resource_pb2.ReadResourceRequest, context: grpc.ServicerContext
    ) -> resource_pb2.ReadResourceResponse:
        try:
            extra: dict[str, Any] = {}
            if request.provider:
                extra["provider"] = request.provider
            if request.dependencies:
                extra["dependencies"] = list(request.dependencies)
            entry = self.dep.read(
                request.type, request.name, request.parent, request.id,
                struct_to_python(request.properties), extra,
            )
            return resource_pb2.ReadResourceResponse(
                urn=entry["urn"],
                id=entry["id"],
                properties=python_to_struct(
                    entry["outputs"], request.acceptSecrets, request.acceptResources
                ),
            )
        except Exception as exc:  # noqa: BLE001
            _abort(context, exc)

    def Invoke(  # noqa: N802
        self, request: resource_pb2.ResourceInvokeRequest, context: grpc.ServicerContext
    ) -> resource_pb2.ResourceInvokeResponse:
        if request.tok == "pulumi:pulumi:getResource":
            urn = struct_to_python(request.args).get("urn", "")
            found = self.dep.lookup(urn)
            if found is None:
                return resource_pb2.ResourceInvokeResponse(
                    failures=[provider_pb2.CheckFailure(property="urn", reason=f"resource {urn!r} not found")]
                )
            result = {"urn": urn, "id": found.get("id", ""), "state": found.get("outputs") or {}}
            # "return" is a Python keyword, so only ** can pass it; the stub then misreads the other fields.
            return resource_pb2.ResourceInvokeResponse(
                **{"return": python_to_struct(result, True, request.acceptResources)}  # type: ignore[arg-type]
            )
        return resource_pb2.ResourceInvokeResponse(
            failures=[provider_pb2.CheckFailure(
                property="",
                reason=(
                    f"the stand-in engine has no provider to invoke {request.tok!r}; "
                    "function calls (invokes) need a real Pulumi CLI"
                ),
            )]
        )

    def Call(  # noqa: N802
        self, request: resource_pb2.ResourceCallRequest, context: grpc.ServicerContext
    ) -> provider_pb2.CallResponse:
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"the stand-in engine cannot call method {request.tok!r} (no providers offline)",
        )

    def SignalAndWaitForShutdown(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        # Steps are applied synchronously, so there is nothing left to wait for.
        return empty_pb2.Empty()


class EngineServicer(engine_pb2_grpc.EngineServicer):
    """``pulumirpc.Engine``: logging and the root resource.

    :param dep: The running deployment.
    """

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.root_urn = ""

    def Log(self, request: engine_pb2.LogRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        severity = _SEVERITY.get(request.severity, "info")
        if severity != "debug":
            self.dep.diagnostic(severity, request.message, request.urn)
        return empty_pb2.Empty()

    def GetRootResource(  # noqa: N802
        self, request: engine_pb2.GetRootResourceRequest, context: grpc.ServicerContext
    ) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=self.root_urn)

    def SetRootResource(  # noqa: N802
        self, request: engine_pb2.SetRootResourceRequest, context: grpc.ServicerContext
    ) -> engine_pb2.SetRootResourceResponse:
        self.root_urn = request.urn
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(  # noqa: N802
        self, request: engine_pb2.RequirePulumiVersionRequest, context: grpc.ServicerContext
    ) -> engine_pb2.RequirePulumiVersionResponse:
        # Version ranges are not evaluated; the stand-in claims its protocol version.
        return engine_pb2.RequirePulumiVersionResponse()


def _parallel(dep: Deployment) -> int:
    value = dep.inv.args.value("parallel", "p")
    try:
        return int(value) if value else 16
    except ValueError:
        return 16


def run_inline_program(dep: Deployment, client: str) -> str | None:
    """Serve the monitor, run the program through its LanguageServer, return its error.

    :param dep: The running deployment.
    :param client: ``host:port`` of the SDK's LanguageServer (loopback).
    :returns: The program's error text, or None on success.
    """
    host = client.rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise StandinError(f"--client must be a loopback address, got {client!r}")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=_GRPC_OPTIONS)
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(MonitorServicer(dep), server)
    engine_pb2_grpc.add_EngineServicer_to_server(EngineServicer(dep), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    address = f"127.0.0.1:{port}"
    channel = grpc.insecure_channel(client, options=_GRPC_OPTIONS)
    try:
        request = language_pb2.RunRequest(
            project=dep.ref.project,
            stack=dep.ref.name,
            pwd=dep.inv.cwd,
            program=".",
            args=[address],  # the Python LanguageServer reads the engine address here
            config={k: config_string(v) for k, (v, _) in dep.config.items()},
            configSecretKeys=[k for k, (_, s) in dep.config.items() if s],
            dryRun=dep.dry_run,
            parallel=_parallel(dep),
            monitor_address=address,
            organization=DEFAULT_ORG,
        )
        future = language_pb2_grpc.LanguageRuntimeStub(channel).Run.future(request)
        cancelled_at: float | None = None
        while True:
            try:
                response = future.result(timeout=0.1)
                break
            except grpc.FutureTimeoutError:
                # Poll so signal handlers (console form) get to run.
                if dep.inv.cancel.is_set():
                    cancelled_at = cancelled_at or time.monotonic()
                    if time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS:
                        future.cancel()
                        dep.program_failed = True
                        return "update canceled"
            except grpc.RpcError as exc:
                dep.program_failed = True
                return f"failed to run the program through its language server: {exc.details()}"
        if response.error or response.bail:
            dep.program_failed = True
            return response.error or "the program failed (bail)"
        return None
    finally:
        channel.close()
        server.stop(grace=None)
