"""The suite's own set-up: ``scripts/test.sh`` runs pytest-xdist with ``--dist loadgroup``, and the distributed
harness and the browser tests' deployment are started once because their tests share an ``xdist_group``
(one worker, one module fixture). pytest 9.2 with pytest-xdist 3.8 silently ignored every group."""

from __future__ import annotations

import re

pytest_plugins = ["pytester"]


def test_an_xdist_group_runs_on_one_worker(pytester):
    pytester.makepyfile(
        test_grouped="""
        import time, pytest
        pytestmark = pytest.mark.xdist_group("together")
        @pytest.mark.parametrize("i", range(6))
        def test_grouped(i):
            time.sleep(0.3)
        """,
        test_free="""
        import time, pytest
        @pytest.mark.parametrize("i", range(6))
        def test_free(i):
            time.sleep(0.3)
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:airflow_pulumi_decorators",
                                           "-n", "2", "--dist", "loadgroup", "-v")
    result.assert_outcomes(passed=12)
    workers = {worker for worker, test in re.findall(r"\[(gw\d)\] \[[ \d]+%\] PASSED (\S+)", result.stdout.str())
               if test.startswith("test_grouped.py")}
    assert len(workers) == 1, result.stdout.str()
    assert "test_grouped.py::test_grouped[0]@together" in result.stdout.str()  # xdist names the group
