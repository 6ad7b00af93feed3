"""Python dynamic providers, run in-process the way a real engine runs them through its
``pulumi-resource-pulumi-python`` plugin: check, diff, create, update, delete and read.

A dynamic resource carries its provider, pickled with dill, in the ``__provider`` property; the real
plugin unpickles it and calls the provider's methods with plain values (secrets revealed). So does this
module, so a program's dynamic resources get the same ids, outputs and side effects on the stand-in as
on a real engine.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Any

from . import props
from .config import config_string
from .constants import UNKNOWN
from .sink import StandinError

PROVIDER_KEY = "__provider"
TYPE_PREFIX = "pulumi-python:dynamic"


def _wire(values: Any) -> Any:
    """What the real plugin hands the provider: secrets revealed, numbers as floats."""
    return props.as_wire_numbers(props.reveal(values))


def is_dynamic(type_: str) -> bool:
    """:param type_: a resource type token."""
    return type_.startswith(TYPE_PREFIX)


@dataclass
class Plan:
    """What a registration does to a dynamic resource.

    :param op: ``create``, ``update``, ``replace`` or ``same``.
    :param diffs: the changed keys (for ``update``/``replace``).
    :param delete_first: ``replace`` deletes the old resource before creating the new one.
    """

    op: str
    diffs: list[str] = field(default_factory=list)
    delete_first: bool = False


class DynamicProviders:
    """The dynamic providers of one deployment.

    :param config: the stack's resolved config (``key -> (value, secret)``), for ``configure``.
    :param project: the project name.
    """

    def __init__(self, config: dict[str, tuple[Any, bool]], project: str) -> None:
        self._raw_config = {key: config_string(value) for key, (value, _secret) in config.items()}
        self._project = project
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _provider(self, values: dict[str, Any]) -> Any:
        serialized = props.reveal(values.get(PROVIDER_KEY))
        if not isinstance(serialized, str) or serialized == UNKNOWN:
            raise StandinError("a dynamic resource has no serialized provider (__provider)")
        with self._lock:
            provider = self._cache.get(serialized)
            if provider is None:
                import dill
                from pulumi.dynamic import ConfigureRequest
                from pulumi.dynamic.config import Config

                provider = dill.loads(base64.b64decode(serialized))
                provider.configure(ConfigureRequest(Config(raw_config=self._raw_config, project_name=self._project)))
                self._cache[serialized] = provider
        return provider

    @staticmethod
    def _outputs(inputs: dict[str, Any], outs: dict[str, Any] | None) -> dict[str, Any]:
        """Provider outputs with the provider key kept, and secret where the same input was secret."""
        result: dict[str, Any] = props.normalize(dict(outs or {}))  # the engine stores integral numbers as ints
        result[PROVIDER_KEY] = inputs.get(PROVIDER_KEY)
        for key, value in inputs.items():
            if props.is_secret(value) and key in result:
                result[key] = props.make_secret(result[key])
        return result

    def check(self, old_inputs: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any]:
        """The provider's checked inputs (a failed check is an error naming the property)."""
        provider = self._provider(inputs)
        result = provider.check(_wire(old_inputs or {}), _wire(inputs))
        if result.failures:
            reasons = "; ".join(f"{f.property}: {f.reason}" for f in result.failures)
            raise StandinError(f"dynamic provider check failed: {reasons}")
        checked: dict[str, Any] = props.skip_nulls(props.normalize(dict(result.inputs)))
        for key, value in inputs.items():  # the plugin keeps secretness on the wire
            if props.is_secret(value) and key in checked:
                checked[key] = props.make_secret(checked[key])
        checked[PROVIDER_KEY] = inputs.get(PROVIDER_KEY)
        return checked

    def plan(
        self, resource_id: str, old_inputs: dict[str, Any], old_outputs: dict[str, Any], inputs: dict[str, Any]
    ) -> Plan:
        """Diff the old resource against the new inputs, as the engine does with the provider's answer.

        :param resource_id: the old resource's id.
        :param old_inputs: its inputs.
        :param old_outputs: its outputs (what the provider's ``diff`` gets as olds).
        :param inputs: the checked new inputs.
        """
        provider = self._provider(inputs)
        result = provider.diff(resource_id, _wire(old_outputs), _wire(inputs))
        changed_keys = sorted(
            k for k in set(old_inputs) | set(inputs)
            if k != PROVIDER_KEY and props.reveal(old_inputs.get(k)) != props.reveal(inputs.get(k))
        )
        changes = result.changes
        if changes is None:  # the provider does not know: the engine compares the inputs
            changes = bool(changed_keys)
        if not changes:
            return Plan("same")
        if result.replaces:
            return Plan("replace", sorted(result.replaces), bool(result.delete_before_replace))
        return Plan("update", changed_keys)

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create; returns the id and the outputs."""
        result = self._provider(inputs).create(_wire(inputs))
        return str(result.id), self._outputs(inputs, result.outs)

    def update(self, resource_id: str, old_outputs: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        """Update; returns the outputs."""
        result = self._provider(inputs).update(resource_id, _wire(old_outputs), _wire(inputs))
        return self._outputs(inputs, result.outs)

    def delete(self, resource_id: str, outputs: dict[str, Any]) -> None:
        """Delete the resource."""
        self._provider(outputs).delete(resource_id, _wire(outputs))

    def read(self, resource_id: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Read the resource as it is now; an empty id means it is gone."""
        values = outputs if PROVIDER_KEY in outputs else inputs
        result = self._provider(values).read(resource_id, _wire(outputs or inputs))
        if not result.id:
            return "", {}
        return str(result.id), self._outputs(values, result.outs)
