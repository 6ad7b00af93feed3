"""Our suite's names for the test kit's engines (:mod:`airflow_pulumi_decorators.testing.engines`): the
in-process stand-in, the ``pulumi-standin`` executable and the real ``pulumi`` CLI (``scripts/test.sh`` sets
``APD_REAL_PULUMI``). The ``engine`` and ``header`` fixtures are in ``tests/conftest.py``."""

from airflow_pulumi_decorators.testing.engines import (
    ENGINES,
    NO_REAL_CLI,
    PREAMBLE,
    EngineKit,
    engine_kit,
    real_pulumi,
    recording_wrapper,
)

__all__ = ["ENGINES", "NO_REAL_CLI", "PREAMBLE", "EngineKit", "engine_kit", "real_pulumi", "recording_wrapper"]
