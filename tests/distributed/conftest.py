"""The distributed harness (:mod:`tests.distributed.harness`), started once for every scenario of the session.

Without its prerequisites (root, PostgreSQL 15, redis-server, the Celery provider) the scenarios skip and say
why; with ``APD_REQUIRE_DISTRIBUTED=1`` (``.ci/run``) they fail instead. When a scenario fails, the tail of
every component's log is added to its report. The harness's start-up and each scenario's wall time are
printed at the end of the run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_pulumi_decorators.testing.engines import NO_REAL_CLI
from tests.distributed.harness import Cluster, missing_prerequisites

#: The engines every scenario runs on: the stand-in executable and the real CLI.
ENGINES = ("standin", "real")

_TIMINGS: dict[str, float] = {}
_CLUSTER: list[Cluster] = []


def scenario_timing(name: str, seconds: float) -> None:
    """Record a scenario's wall time for the summary at the end of the run."""
    _TIMINGS[name] = seconds


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The running deployment; torn down (every process, both servers, the folder) after the session."""
    reason = missing_prerequisites()
    if reason:
        if os.environ.get("APD_REQUIRE_DISTRIBUTED"):
            pytest.fail(f"APD_REQUIRE_DISTRIBUTED is set but {reason}")
        pytest.skip(reason)
    from tests.distributed.scenarios import ALL_DAG_IDS

    made = Cluster()
    _CLUSTER.append(made)
    began = time.monotonic()
    try:
        made.start(ALL_DAG_IDS(made))
    except BaseException:
        print(made.tails(60))
        made.close()
        _CLUSTER.remove(made)
        raise
    _TIMINGS["harness start-up"] = time.monotonic() - began
    try:
        yield made
    finally:
        began = time.monotonic()
        made.close()  # at once when pytest_runtest_teardown has closed it already
        _TIMINGS.setdefault("harness teardown", time.monotonic() - began)
        _CLUSTER.remove(made)
        left = made.leftovers()
        assert not left, f"processes left after teardown: {left}"
        assert not made.root.exists(), f"{made.root} left after teardown"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, cluster: Cluster) -> str:
    """The engine of the scenario's DAG (its DAG id ends in ``__<engine>``)."""
    if request.param == "real" and not cluster.real_cli:
        if os.environ.get("APD_REQUIRE_REAL_PULUMI"):
            pytest.fail(f"APD_REQUIRE_REAL_PULUMI is set but there is {NO_REAL_CLI}")
        pytest.skip(NO_REAL_CLI)
    return str(request.param)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the harness as soon as the last distributed test is done, not at the end of the whole run: an
    idle deployment would hold memory and CPU while the rest of the suite runs."""
    if _CLUSTER and (nextitem is None or Path(__file__).parent not in Path(str(nextitem.path)).parents):
        began = time.monotonic()
        _CLUSTER[0].close()
        _TIMINGS["harness teardown"] = time.monotonic() - began


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed and _CLUSTER:
        report.sections.append(("distributed harness: component logs (tail)", _CLUSTER[0].tails(40)))


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if _TIMINGS:
        terminalreporter.section("distributed harness: wall times")
        for name, seconds in _TIMINGS.items():
            terminalreporter.write_line(f"{name:<40} {seconds:7.1f} s")
