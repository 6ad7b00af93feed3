"""The engine's thread flag (:mod:`airflow_pulumi_decorators.engine.flag`): a timeout raised from a signal
handler while a thread waits on it must never leave it unusable (``threading.Event`` can be left locked, and
the engine's stop then waited on it for ever: a task hung after its execution timeout)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from airflow_pulumi_decorators.engine.flag import Flag

# Interrupts the waiting thread every 0.3 ms for two seconds with an exception raised by a SIGALRM handler
# (as Airflow's execution timeout does), then checks the flag still waits, sets and clears.
_HAMMER = textwrap.dedent("""
    import signal, sys, time
    make = {make}

    class Timeout(Exception):
        pass

    armed = False

    def raise_timeout(*_):
        global armed
        if armed:  # once per arming: never again while the loop below recovers
            armed = False
            raise Timeout()

    flag = make()
    signal.signal(signal.SIGALRM, raise_timeout)
    interrupted = 0
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            armed = True
            signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
            while True:
                flag.wait(0.0001)
        except Timeout:
            interrupted += 1
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
        # What the engine's stop does next, on the same thread.
        flag.set()
        assert flag.wait(1)
        flag.clear()
    print("interrupted", interrupted)
""")


def _hammer(make: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _HAMMER.format(make=make)], capture_output=True, text=True,
                          timeout=60)


def test_a_timeout_raised_while_waiting_never_leaves_the_flag_stuck():
    done = _hammer("__import__('airflow_pulumi_decorators.engine.flag', fromlist=['Flag']).Flag")
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 100  # the handler really interrupted the waits


def test_wait_returns_when_another_thread_sets_it_and_times_out_otherwise():
    flag = Flag()
    assert flag.wait(0.05) is False and not flag.is_set()
    threading.Timer(0.05, flag.set).start()
    assert flag.wait(5) is True and flag.is_set()
    flag.clear()
    assert not flag.is_set()
