"""Run a ``@pulumi_stack`` program alone, in milliseconds, on Pulumi's own mocks (``pulumi.runtime.set_mocks``).

No Airflow, no engine, no state: the program function runs with Pulumi's mock resource monitor, every
resource it declares is recorded with its inputs, and its returned outputs are resolved. Use it for the
logic of a program (names, inputs, config handling, what it returns); use the DAG runner
(:mod:`airflow_pulumi_decorators.testing.dagrun`) for the task around it.

Example::

    from airflow_pulumi_decorators.testing.mocks import run_program
    from dags.storage import storage          # the @pulumi_stack function

    run = run_program(storage, "EU", config={"gcp:project": "acme-dev"})
    bucket = run.resource("raw")
    assert bucket.type == "gcp:storage/bucket:Bucket"
    assert bucket.inputs["location"] == "EU"
    assert run.outputs["bucket"] == bucket.outputs["name"]

A resource's outputs are its inputs plus what ``outputs=`` adds for its type (as a provider would compute
them); provider functions (``gcp.organizations.get_project``) answer what ``invokes=`` says for their token.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``outputs=``/``invokes=``: a mapping by type token (or function token), or a function of the request.
Computed = Mapping[str, Mapping[str, Any]] | Callable[[Any], Mapping[str, Any] | None]


@dataclass(frozen=True)
class MockedResource:
    """A resource the program declared.

    :param type: its type token, e.g. ``gcp:storage/bucket:Bucket``.
    :param name: the resource name the program gave it.
    :param inputs: the inputs the program passed (resolved).
    :param outputs: what the mock returned as its state (inputs plus ``outputs=`` for its type).
    :param id: its id (``<name>-id`` unless ``outputs=`` gives an ``id``).
    :param custom: ``False`` for a component resource.
    """

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    custom: bool


@dataclass(frozen=True)
class MockedInvoke:
    """A provider function the program called: its token and arguments."""

    token: str
    args: dict[str, Any]


@dataclass
class ProgramRun:
    """What the program did.

    :param outputs: the returned stack outputs, resolved (``None`` for values unknown in a preview).
    :param secret_outputs: the names of the outputs that are secret.
    :param resources: every resource it declared, in order (provider resources left out).
    :param invokes: every provider function it called, in order.
    """

    outputs: dict[str, Any]
    secret_outputs: frozenset[str]
    resources: list[MockedResource] = field(default_factory=list)
    invokes: list[MockedInvoke] = field(default_factory=list)

    def resource(self, name: str, type: str | None = None) -> MockedResource:
        """The one resource named ``name`` (of ``type``, when names repeat across types).

        :raises KeyError: naming the resources there are, if there is not exactly one.
        """
        found = [r for r in self.resources if r.name == name and (type is None or r.type == type)]
        if len(found) != 1:
            known = ", ".join(f"{r.name} ({r.type})" for r in self.resources) or "none"
            raise KeyError(f"{len(found)} resources named {name!r}{f' of type {type!r}' if type else ''}; "
                           f"declared: {known}")
        return found[0]

    def of_type(self, type: str) -> list[MockedResource]:
        """The resources of one type token, in order."""
        return [r for r in self.resources if r.type == type]


def run_program(
    program: Callable[..., Any],
    *args: Any,
    config: Mapping[str, Any] | None = None,
    secret_config: Iterable[str] = (),
    project: str = "project",
    stack: str = "dev",
    preview: bool = False,
    outputs: Computed | None = None,
    invokes: Computed | None = None,
    **kwargs: Any,
) -> ProgramRun:
    """Run ``program(*args, **kwargs)`` on Pulumi's mocks and return what it declared and returned.

    Each call runs in a fresh Pulumi runtime context (its own project, stack, config and root resource), so
    calls do not see each other.

    :param program: the ``@pulumi_stack`` function (the decorated one, or the plain function).
    :param args: the program's positional arguments.
    :param config: Pulumi config, as an ``Environment``'s ``config`` (``gcp:project``, or plain keys for
        the project's namespace); non-string values are JSON-encoded as the CLI would store them.
    :param secret_config: the config keys to treat as secrets.
    :param project: the Pulumi project name.
    :param stack: the stack name.
    :param preview: run as a preview (``pulumi.runtime.is_dry_run()``; computed outputs unknown).
    :param outputs: extra outputs per resource type token (``{"gcp:storage/bucket:Bucket": {"url": ...}}``),
        or a function of Pulumi's ``MockResourceArgs`` returning them.
    :param invokes: results per provider-function token, or a function of Pulumi's ``MockCallArgs``.
    :param kwargs: the program's keyword arguments.
    :raises TypeError: if the program returns something other than a dict or ``None``.
    """
    function = getattr(program, "function", None) or program
    return contextvars.copy_context().run(
        _run, function, args, kwargs, dict(config or {}), list(secret_config), project, stack, preview,
        outputs or {}, invokes or {},
    )


def _run(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], config: dict[str, Any],
    secret_config: list[str], project: str, stack: str, preview: bool, outputs: Computed, invokes: Computed,
) -> ProgramRun:
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    recorder = _recorder(outputs, invokes)
    settings.ROOT.set(None)  # a fresh root stack resource for this run
    pulumi.runtime.set_mocks(recorder, project=project, stack=stack, preview=preview)
    qualified = {(k if ":" in k else f"{project}:{k}"): v for k, v in config.items()}
    set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in qualified.items()},
        [k if ":" in k else f"{project}:{k}" for k in secret_config],
    )
    resolved: dict[str, Any] = {}
    secret: set[str] = set()

    def body() -> None:
        result = function(*args, **kwargs)
        if result is None:
            return
        if not isinstance(result, Mapping):
            raise TypeError(
                f"a @pulumi_stack function must return a dict of stack outputs or None, got {type(result).__name__}"
            )
        for key, value in result.items():
            output = pulumi.Output.from_input(value)
            resolved[str(key)] = _sync_await(output.future())
            if _sync_await(output.is_secret()):
                secret.add(str(key))

    _sync_await(run_pulumi_func(body))
    return ProgramRun(resolved, frozenset(secret), recorder.resources, recorder.invokes)


def _recorder(outputs: Computed, invokes: Computed) -> Any:
    from pulumi.runtime import Mocks

    class Recorder(Mocks):
        def __init__(self) -> None:
            self.resources: list[MockedResource] = []
            self.invokes: list[MockedInvoke] = []

        def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
            extra = dict((outputs(args) if callable(outputs) else outputs.get(args.typ)) or {})
            resource_id = str(extra.pop("id", None) or args.resource_id or f"{args.name}-id")
            state = {**args.inputs, **extra}
            if not args.typ.startswith("pulumi:providers:"):
                self.resources.append(MockedResource(args.typ, args.name, dict(args.inputs), state, resource_id,
                                                     bool(args.custom)))
            return resource_id, state

        # Pulumi's mock monitor also takes a plain dict (no check failures), which its annotation omits.
        def call(self, args: Any) -> dict[str, Any]:  # type: ignore[override]
            self.invokes.append(MockedInvoke(args.token, dict(args.args)))
            return dict((invokes(args) if callable(invokes) else invokes.get(args.token)) or {})

    return Recorder()
