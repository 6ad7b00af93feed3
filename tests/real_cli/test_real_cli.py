"""The integration scenarios again, against a real ``pulumi`` CLI found on PATH.

No Pulumi CLI can be installed on the machines this project is built on, so here these are skipped, and
say so; on a machine with the CLI (and internet for the ``random`` plugin) they run unchanged. They use
only ``pulumi_random``: no cloud credentials, nothing created outside Pulumi's state.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.integration.test_dag_runs import (  # noqa: F401 - collected here with the real engine
    HEADER,
    test_environment_is_chosen_by_dag_param,
    test_explicit_pulumi_export_works_without_a_return_value,
    test_program_that_raises_fails_with_clear_error_and_traceback,
    test_random_resource_outputs_flow_to_a_downstream_task,
    test_returning_something_other_than_a_dict_is_a_clear_program_error,
    test_second_up_is_a_no_op_and_removing_a_resource_deletes_it,
    test_secret_output_is_withheld_and_absent_from_log_and_state,
    test_secret_output_opt_in_pushes_it,
    test_two_stacks_and_a_consumer_chain_through_xcom,
    test_unknown_environment_at_run_time_lists_known_ones,
    test_update_message_records_dag_run_task_and_try,
)


def _real_cli() -> str | None:
    found = shutil.which("pulumi")
    if found and "standin" not in os.path.basename(os.path.realpath(found)):
        return found
    return None


pytestmark = [
    pytest.mark.real_cli,
    pytest.mark.skipif(
        _real_cli() is None,
        reason="no real `pulumi` CLI on PATH (install it from https://www.pulumi.com/docs/install/ to run "
        "these scenarios against the real engine)",
    ),
]


@pytest.fixture
def header() -> str:
    """The same DAG files, with ``pulumi_command=None``: the task finds the real CLI on PATH."""
    return HEADER.replace("ENGINE = StandinCommand()", "ENGINE = None")
