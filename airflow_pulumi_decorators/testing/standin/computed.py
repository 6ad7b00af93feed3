"""What a provider would compute: values for the outputs a program did not set.

The stand-in runs no provider plugins, so a ``gcp.storage.Bucket("raw", location="EU")`` would come back
with only its inputs and ``bucket.url`` would be ``None``. Here each registration of a plugin resource is
given the outputs its provider always returns, as deterministic, visibly fake values of the right type:

- Which properties: those the resource's Python SDK class declares with a non-``Optional`` type (the
  provider always returns them: output-only properties such as ``url`` and computed inputs such as an
  auto-named ``name``) and the program did not set. ``Optional`` ones stay unset, as a provider leaves
  an unset optional input.
- What value: by property name (``name`` → ``<resource name>-<7 hex>``, Pulumi's auto-naming shape;
  ``project``/``region``/``zone``/``location`` → the provider's own config, e.g. ``gcp:project``; times,
  URLs), otherwise by type (``fake-<property>-<hex>``, a number, ``False``, ``[]``, ``{}``, nested
  objects field by field), then per-type rules for the resources our examples use (a bucket's ``url`` is
  ``gs://<name>``, a service account's ``email`` ``<account id>@<project>.iam.gserviceaccount.com`` …).
- Every value derives from the URN (which holds project and stack) and the inputs: the same stack and
  program give the same values on every run, so re-running ``up`` changes nothing.

Documented in ``docs/standin.md`` ("Provider-computed outputs").
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import importlib
import re
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: A fixed, obviously artificial instant for computed timestamps.
FAKE_TIME = "2026-01-01T00:00:00.000Z"
#: Nested objects deeper than this are left empty (GKE's node configs nest a dozen levels).
MAX_DEPTH = 3

_TOKEN = re.compile(r"^([a-z][a-z0-9-]*):([A-Za-z0-9_./-]+):([A-Za-z][A-Za-z0-9_]*)$")
_PLACE_KEYS = ("project", "region", "zone", "location")


@dataclass(frozen=True)
class Computed:
    """What the provider computed for one registration.

    :param outputs: values for properties the program did not set (wire names).
    :param id: the physical id, when the provider's id is not the stand-in's default.
    """

    outputs: dict[str, Any]
    id: str | None = None


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _number(seed: str, digits: int) -> int:
    modulus: int = 10**digits
    return int(_hex(seed, 16), 16) % modulus


def autoname(name: str, urn: str) -> str:
    """Pulumi's default auto-name, ``<name>-<7 hex>``, with the hex derived from the URN (not random).

    :param name: the resource's logical name.
    :param urn: its URN (project and stack included, so each stack gets its own name).
    """
    return f"{name}-{_hex(urn, 7)}"


# -- the SDK's declaration of a resource type ----------------------------------------------------------


def _module_candidates(package: str, module: str) -> list[str]:
    root = "pulumi_" + package.replace("-", "_")
    first = module.split("/", 1)[0]
    if first == "index":
        return [root]
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", first).lower()
    return [f"{root}.{first}"] + ([f"{root}.{snake}"] if snake != first else [])


@functools.cache
def resource_class(type_: str) -> type | None:
    """The Python SDK class of a resource type token (``gcp:storage/bucket:Bucket`` →
    ``pulumi_gcp.storage.Bucket``), or None when its package is not importable here.

    :param type_: resource type token.
    """
    match = _TOKEN.match(type_)
    if match is None or match.group(1) == "pulumi":
        return None
    package, module, name = match.groups()
    for candidate in _module_candidates(package, module):
        try:
            found = getattr(importlib.import_module(candidate), name, None)
        except Exception:  # noqa: BLE001 - not installed here, or broken: the type is simply not modelled
            continue
        if isinstance(found, type):
            return found
    return None


def _getters(cls: type) -> dict[str, builtins.property]:
    """Wire name → property, for every ``@pulumi.getter`` of ``cls`` and its bases."""
    found: dict[str, builtins.property] = {}
    for base in reversed(cls.__mro__):
        for value in vars(base).values():
            if isinstance(value, builtins.property):
                wire = getattr(value.fget, "_pulumi_name", None)
                if isinstance(wire, str):
                    found[wire] = value
    return found


@functools.cache
def declared_types(cls: type) -> dict[str, Any]:
    """Wire name → declared type (``Output[...]`` unwrapped, ``Optional`` kept) of a resource or output type.

    :param cls: an SDK resource class or ``@pulumi.output_type`` class.
    """
    import pulumi

    namespace = dict(vars(sys.modules[cls.__module__]))
    result: dict[str, Any] = {}
    for wire, prop in _getters(cls).items():
        try:
            hint = typing.get_type_hints(prop.fget, globalns=namespace, localns={"Output": pulumi.Output})
        except Exception:  # noqa: BLE001 - an unresolvable annotation: the property is left alone
            continue
        declared = hint.get("return")
        if typing.get_origin(declared) is pulumi.Output:
            declared = typing.get_args(declared)[0]
        if declared is not None:
            result[wire] = declared
    return result


def _is_optional(declared: Any) -> bool:
    return typing.get_origin(declared) is typing.Union and type(None) in typing.get_args(declared)


# -- values ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    package: str
    name: str
    urn: str
    config: Mapping[str, Any]
    autonamed: str = "name"


def _string(prop: str, ctx: _Context, seed: str) -> str:
    lower = prop.lower()
    if prop == ctx.autonamed:
        return autoname(ctx.name, ctx.urn)
    if prop in _PLACE_KEYS:
        configured = ctx.config.get(f"{ctx.package}:{prop}")
        if configured is None and prop == "location":
            configured = ctx.config.get(f"{ctx.package}:region")
        return str(configured) if configured is not None else f"fake-{prop}"
    if lower in ("deletetime", "expiretime"):
        return ""  # a live resource is not scheduled for deletion
    if "time" in lower or lower in ("created", "updated") or lower.endswith("timestamp"):
        return FAKE_TIME
    if lower in ("selflink", "url", "uri") or lower.endswith(("url", "uri")):
        return f"https://{ctx.package}.standin.invalid/{ctx.name}/{prop}"
    return f"fake-{prop}-{_hex(seed, 8)}"


def _value(prop: str, declared: Any, ctx: _Context, seed: str, depth: int) -> Any:
    """A value of ``declared`` type for ``prop``, or ``None`` when the type is not one we can fake."""
    if declared is str:
        return _string(prop, ctx, seed)
    if declared is bool:
        return False
    if declared is int:
        return _number(seed, 9)
    if declared is float:
        return 0.0
    origin = typing.get_origin(declared)
    if origin is not None and isinstance(origin, type):
        if issubclass(origin, (str, bytes)):
            return None
        if issubclass(origin, Mapping):
            return {}
        if issubclass(origin, Sequence):
            return []
    if isinstance(declared, type) and _getters(declared):
        if depth >= MAX_DEPTH:
            return {}
        return _object(declared, ctx, seed, depth + 1)
    return None


def _object(cls: type, ctx: _Context, seed: str, depth: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for wire, declared in declared_types(cls).items():
        if _is_optional(declared):
            continue
        value = _value(wire, declared, ctx, f"{seed}/{wire}", depth)
        if value is not None:
            result[wire] = value
    return result


# -- per-type rules ----------------------------------------------------------------------------------

_Rule = Callable[[dict[str, Any], _Context], tuple[dict[str, Any], str | None]]


def _gcp_labels(view: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    labels = view.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    # pulumi-gcp adds this attribution label to every labelled resource.
    return dict(labels, **{"goog-pulumi-provisioned": "true"})


def _bucket(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    name = str(view["name"]).lower() if "name" in view else autoname(ctx.name, ctx.urn).lower()
    return {
        "name": name,
        "url": f"gs://{name}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{name}",
    }, name


def _dataset(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    path = f"projects/{view.get('project')}/datasets/{view.get('datasetId')}"
    return {"selfLink": f"https://bigquery.googleapis.com/bigquery/v2/{path}"}, path


def _service_account(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    account_id = view.get("accountId")
    email = f"{account_id}@{view.get('project')}.iam.gserviceaccount.com"
    name = f"projects/{view.get('project')}/serviceAccounts/{email}"
    return {
        "accountId": account_id,
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": name,
        "uniqueId": str(10 ** 20 + _number(ctx.urn, 20)),
    }, name


def _cloud_run_service(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    project, location, name = view.get("project"), view.get("location"), view.get("name")
    # Cloud Run's deterministic URL shape: https://<service>-<project number>.<region>.run.app
    uri = f"https://{name}-{_number(str(project), 12)}.{location}.run.app"
    return {"uri": uri, "urls": [uri]}, f"projects/{project}/locations/{location}/services/{name}"


def _random_pet(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    return {"separator": "-"}, None  # the provider's default


def _random_text(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    length = view.get("length")
    if not isinstance(length, int):
        length = 16
    text = (_hex(ctx.urn, 64) * (length // 64 + 1))[:length]
    # The provider's defaults: every character class allowed, no minimums.
    defaults: dict[str, bool | int] = dict.fromkeys(("lower", "upper", "numeric", "number", "special"), True)
    defaults.update(dict.fromkeys(("minLower", "minUpper", "minNumeric", "minSpecial"), 0))
    return {"result": text, **defaults}, None


def _gke_cluster(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    path = f"projects/{view.get('project')}/locations/{view.get('location')}/clusters/{view.get('name')}"
    return {
        # TEST-NET-3 (RFC 5737): an address that is never routed.
        "endpoint": f"203.0.113.{_number(ctx.urn, 8) % 254 + 1}",
        "masterVersion": "1.33.0-gke.standin",
        "selfLink": f"https://container.googleapis.com/v1/{path}",
    }, path


def _dataproc_cluster(view: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any], str | None]:
    region = view.get("region") or ctx.config.get("gcp:region") or "global"
    return {"region": region}, f"projects/{view.get('project')}/regions/{region}/clusters/{view.get('name')}"


#: Per-type rules, applied after the generic fill; they see inputs and generic values together (inputs win)
#: and may only set properties the program did not.
TYPE_RULES: dict[str, _Rule] = {
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:bigquery/dataset:Dataset": _dataset,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "gcp:dataproc/cluster:Cluster": _dataproc_cluster,
    "gcp:cloudrunv2/service:Service": _cloud_run_service,
    "random:index/randomPet:RandomPet": _random_pet,
    "random:index/randomString:RandomString": _random_text,
    "random:index/randomPassword:RandomPassword": _random_text,
}

#: Types whose provider auto-names another property than ``name``.
AUTONAMED = {"gcp:serviceaccount/account:Account": "accountId"}

_LABEL_KEYS = ("effectiveLabels", "pulumiLabels", "terraformLabels")


def compute(type_: str, name: str, urn: str, inputs: Mapping[str, Any], config: Mapping[str, Any]) -> Computed:
    """The outputs a provider would add to ``inputs`` for a new or updated resource.

    :param type_: resource type token.
    :param name: the resource's logical name.
    :param urn: its URN.
    :param inputs: what the program set (wire names; nulls already dropped).
    :param config: the stack's plain config values (``gcp:project`` …).
    """
    match = _TOKEN.match(type_)
    if match is None or match.group(1) == "pulumi":
        return Computed({})
    ctx = _Context(match.group(1), name, urn, config, AUTONAMED.get(type_, "name"))
    generic: dict[str, Any] = {}
    cls = resource_class(type_)
    if cls is not None:
        for wire, declared in declared_types(cls).items():
            if wire in inputs or wire == "id" or _is_optional(declared):
                continue
            if wire in _LABEL_KEYS and ctx.package == "gcp":
                generic[wire] = _gcp_labels(dict(inputs), ctx)
                continue
            value = _value(wire, declared, ctx, f"{urn}#{wire}", 0)
            if value is not None:
                generic[wire] = value
    physical_id: str | None = None
    rule = TYPE_RULES.get(type_)
    if rule is not None:
        view = {**generic, **inputs}
        for key in _PLACE_KEYS:
            view.setdefault(key, _string(key, ctx, urn))
        extra, physical_id = rule(view, ctx)
        generic.update({k: v for k, v in extra.items() if k not in inputs})
    return Computed(generic, physical_id)
