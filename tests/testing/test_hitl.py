"""Answering a Human-in-the-loop request from a test (:mod:`airflow_pulumi_decorators.testing.hitl`); the
answer reaching a parked ``ApprovalOperator`` is shown in ``tests/integration/test_approvals.py``."""

from __future__ import annotations

import time

import pytest

from airflow_pulumi_decorators.testing.hitl import _imports, respond, respond_in_background


def test_no_request_in_time_is_a_timeout_naming_the_task(apd_airflow_home):
    _imports()  # Airflow's models, once per process: not part of the wait
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"no Human-in-the-loop request from t_hitl_none\.gate within 0s"):
        respond("t_hitl_none", "gate", "Approve", timeout=0.3)
    assert time.monotonic() - started < 5


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # its TimeoutError
def test_the_background_responder_is_a_daemon_thread_that_ends_on_its_timeout(apd_airflow_home):
    thread = respond_in_background("t_hitl_none", "gate", ["Approve"], timeout=0.3)
    assert thread.daemon and thread.is_alive()
    thread.join(10)
    assert not thread.is_alive()
