"""Offline resources for tests: Python dynamic providers that behave the same on every engine.

They need no cloud and no provider download: a real ``pulumi`` CLI runs them through its dynamic-provider
plugin (``pulumi-resource-pulumi-python``), and the stand-in engine runs the very same provider code
in-process. Use them where a test needs real create/update/delete side effects, provider-computed outputs
or real drift.

- :class:`LocalFile` writes a file; a refresh reads it back, so editing or deleting the file is drift.
- :class:`FakeName` computes a name (like ``random.RandomPet``) from its inputs: a provider-computed output.
- :class:`Sleep` takes ``seconds`` to create or update: an update slow enough to interrupt.
- :class:`Settings` holds a string, a number, a nested dict, a list and a (secret) password: property diffs
  of every kind; changing ``region`` replaces it.

Import this module only inside a Pulumi program (it imports ``pulumi``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

#: The key under which Pulumi stores the serialized provider in a dynamic resource's properties.
_PROVIDER_KEY = "__provider"

_WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "iris", "juniper",
          "kestrel", "lumen", "maple", "nimbus", "opal", "pine", "quartz", "raven", "sage", "tundra")


def _plain(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != _PROVIDER_KEY}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _LocalFileProvider(ResourceProvider):
    """Create/update write ``content`` to ``path``; read reports what the file holds now."""

    def _write(self, props: dict[str, Any]) -> dict[str, Any]:
        path, content = props["path"], props["content"]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        return {"path": path, "content": content, "sha256": _digest(content), "size": len(content)}

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._write(_plain(props))
        return CreateResult(id_=outs["path"], outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["path"] if olds.get("path") != news.get("path") else []
        changed = bool(replaces) or olds.get("content") != news.get("content")
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._write(_plain(news)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not os.path.exists(id_):
            return ReadResult(id_="", outs={})  # gone: the engine drops it from the state
        with open(id_, encoding="utf-8") as handle:
            content = handle.read()
        outs = {"path": id_, "content": content, "sha256": _digest(content), "size": len(content)}
        return ReadResult(id_=id_, outs=outs)

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        if os.path.exists(id_):
            os.remove(id_)


class _FakeNameProvider(ResourceProvider):
    """A name computed from the inputs: deterministic, clearly fake, stable across engines."""

    def _name(self, props: dict[str, Any]) -> dict[str, Any]:
        plain = _plain(props)
        seed = _digest(json.dumps(plain, sort_keys=True, default=str))
        words = [_WORDS[int(seed[i * 2:i * 2 + 2], 16) % len(_WORDS)] for i in range(int(plain.get("length", 2)))]
        name = plain.get("separator", "-").join([plain["prefix"], *words] if plain.get("prefix") else words)
        return {**plain, "name": name}

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._name(props)
        return CreateResult(id_=outs["name"], outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._name(news))


class _SleepProvider(ResourceProvider):
    """Create and update take ``seconds``; nothing else happens."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(props["seconds"]))
        return CreateResult(id_=hashlib.sha1(json.dumps(_plain(props), sort_keys=True).encode()).hexdigest()[:12],
                            outs=_plain(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        time.sleep(float(news["seconds"]))
        return UpdateResult(outs=_plain(news))


class _SettingsProvider(ResourceProvider):
    """Stores its inputs as outputs; a changed ``region`` replaces the resource, anything else updates it."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _plain(props)
        return CreateResult(id_=f"settings-{_digest(str(outs.get('region')))[:8]}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        old, new = _plain(olds), _plain(news)
        replaces = ["region"] if old.get("region") != new.get("region") else []
        return DiffResult(changes=old != new, replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_plain(news))


class LocalFile(pulumi.dynamic.Resource, module="apd", name="LocalFile"):
    """A file on the machine that runs the engine.

    Type token ``pulumi-python:dynamic/apd:LocalFile`` (what steps, state and ``StackResource.type`` show).
    Outputs: ``path``, ``content``, ``sha256`` (of the content) and ``size`` (bytes). A refresh reads the
    file back: editing or deleting it is drift.

    :param resource_name: the Pulumi resource name.
    :param path: absolute path of the file (changing it replaces the resource).
    :param content: its text.
    :param opts: resource options.
    """

    path: pulumi.Output[str]
    content: pulumi.Output[str]
    sha256: pulumi.Output[str]
    size: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        path: pulumi.Input[str],
        content: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            _LocalFileProvider(),
            resource_name,
            {"path": path, "content": content, "sha256": None, "size": None},
            opts,
        )


class FakeName(pulumi.dynamic.Resource, module="apd", name="FakeName"):
    """A provider-computed name, ``<prefix>-<word>-<word>``, derived from the inputs.

    Type token ``pulumi-python:dynamic/apd:FakeName``. Outputs: ``name`` (computed by the provider, so
    unknown in a preview), ``prefix``, ``length``, ``separator`` and ``keepers``.

    :param resource_name: the Pulumi resource name.
    :param prefix: the name's first part (may be empty).
    :param length: how many words follow it.
    :param separator: what joins the parts.
    :param keepers: values that, when changed, change the name.
    :param opts: resource options.
    """

    name: pulumi.Output[str]
    prefix: pulumi.Output[str]
    keepers: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        resource_name: str,
        prefix: pulumi.Input[str] = "",
        length: int = 2,
        separator: str = "-",
        keepers: pulumi.Input[dict[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            _FakeNameProvider(),
            resource_name,
            {"prefix": prefix, "length": length, "separator": separator, "keepers": keepers or {}, "name": None},
            opts,
        )


class Sleep(pulumi.dynamic.Resource, module="apd", name="Sleep"):
    """A resource whose create and update take ``seconds``.

    Type token ``pulumi-python:dynamic/apd:Sleep``. Output: ``seconds``.

    :param resource_name: the Pulumi resource name.
    :param seconds: how long each create or update takes.
    :param opts: resource options (``depends_on`` chains them into a slow, sequential update).
    """

    seconds: pulumi.Output[float]

    def __init__(self, resource_name: str, seconds: float, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(_SleepProvider(), resource_name, {"seconds": seconds}, opts)


class Settings(pulumi.dynamic.Resource, module="apd", name="Settings"):
    """A service's settings: properties of every kind, for property diffs (nothing outside the state changes).

    Type token ``pulumi-python:dynamic/apd:Settings``. Outputs: its inputs. Changing ``region`` replaces it;
    any other change updates it.

    :param resource_name: the Pulumi resource name.
    :param region: a string that forces a replacement when it changes.
    :param image: a string.
    :param replicas: a number.
    :param scaling: a nested dict.
    :param members: a list.
    :param password: a secret (pass ``pulumi.Output.secret(...)``), or ``None``.
    :param opts: resource options.
    """

    region: pulumi.Output[str]
    image: pulumi.Output[str]
    replicas: pulumi.Output[int]
    scaling: pulumi.Output[dict[str, Any]]
    members: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        region: pulumi.Input[str],
        image: pulumi.Input[str],
        replicas: pulumi.Input[int] = 1,
        scaling: pulumi.Input[dict[str, Any]] | None = None,
        members: pulumi.Input[list[str]] | None = None,
        password: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"region": region, "image": image, "replicas": replicas,
                                 "scaling": scaling or {}, "members": members or []}
        if password is not None:
            props["password"] = password
        super().__init__(_SettingsProvider(), resource_name, props, opts)
