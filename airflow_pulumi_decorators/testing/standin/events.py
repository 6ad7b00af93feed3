"""Engine events for ``--event-log``: a file (one JSON per line) or ``tcp://`` gRPC.

The Automation API tails a file until a ``cancelEvent`` (CLI <= 3.205) or
serves ``pulumirpc.Events/StreamEvents`` (newer CLIs) and reads our client
stream until we close it. Either way a ``cancelEvent`` ends the stream.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any


class EventLog:
    """Sequenced engine-event writer.

    :param target: Value of ``--event-log`` (None disables events).
    :param cwd: Base for relative file paths.
    """

    def __init__(self, target: str | None, cwd: str) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._file = None
        self._queue: queue.Queue[str | None] | None = None  # event lines, then None to finish
        self._future: Any = None
        self._channel: Any = None
        self._closed = False
        if not target:
            return
        if target.startswith("tcp://"):
            self._open_grpc(target[len("tcp://"):])
        else:
            path = target if os.path.isabs(target) else os.path.join(cwd, target)
            self._file = open(path, "a", encoding="utf-8")

    def _open_grpc(self, address: str) -> None:
        import grpc
        from pulumi.runtime.proto import events_pb2, events_pb2_grpc

        self._channel = grpc.insecure_channel(address)
        stub = events_pb2_grpc.EventsStub(self._channel)
        self._queue = queue.Queue()
        q = self._queue

        def requests() -> Iterator[events_pb2.EventRequest]:
            while True:
                item = q.get()
                if item is None:
                    return
                yield events_pb2.EventRequest(event=item)

        # A client-streaming call; the SDK's servicer reads until we finish.
        self._future = stub.StreamEvents.future(requests())

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        """Send one event.

        :param kind: Event field name, e.g. ``resourcePreEvent``.
        :param payload: Event body.
        """
        with self._lock:
            if self._closed or (self._file is None and self._queue is None):
                return
            self._seq += 1
            line = json.dumps(
                {"sequence": self._seq, "timestamp": int(time.time()), kind: payload}
            )
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()
            elif self._queue is not None:
                self._queue.put(line)

    def close(self) -> None:
        """Emit the final ``cancelEvent`` and finish the stream (idempotent)."""
        self.emit("cancelEvent", {})
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._file is not None:
            self._file.close()
        if self._queue is not None:
            self._queue.put(None)
            try:
                self._future.result(timeout=10)
            except Exception:  # noqa: BLE001 - a vanished listener must not fail the update
                pass
            self._channel.close()


def step_metadata(
    op: str,
    urn: str,
    type_: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    diffs: list[str] | None = None,
    keys: list[str] | None = None,
) -> dict[str, Any]:
    """``StepEventMetadata`` JSON for resource events.

    As the real CLI writes them: the values in ``old``/``new`` carry the property diff (a Python dynamic
    provider answers a diff with no changed keys and no detailed diff, so ``diffs`` and ``detailedDiff`` are
    empty for its resources), ``keys`` names the properties that force a replacement.

    :param op: A valid ``OpType`` value.
    :param urn: Resource URN.
    :param type_: Resource type.
    :param old: Old state metadata (already masked) or None.
    :param new: New state metadata (already masked) or None.
    :param diffs: Changed top-level input keys.
    :param keys: The properties whose change forces a replacement (``replace`` steps).
    """
    meta: dict[str, Any] = {
        "op": op,
        "urn": urn,
        "type": type_,
        "provider": "",
        "diffs": diffs or [],
        "detailedDiff": None,
        "logical": True,
    }
    if keys:
        meta["keys"] = list(keys)
    if old is not None:
        meta["old"] = old
    if new is not None:
        meta["new"] = new
    return meta
