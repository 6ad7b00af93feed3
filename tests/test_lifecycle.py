"""The ``stack_name`` Jinja filter (:mod:`airflow_pulumi_decorators.lifecycle`)."""

from __future__ import annotations

import pytest

from airflow_pulumi_decorators.lifecycle import stack_name_filter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feature/Login+SSO", "feature-Login-SSO"),
        ("manual__2026-01-01T00:00:00+00:00", "manual__2026-01-01T00-00-00-00-00"),
        ("///", "stack"),
    ],
)
def test_stack_name_filter_makes_valid_stack_names(text, expected):
    assert stack_name_filter(text) == expected


def test_stack_name_filter_shortens_long_names_without_collisions():
    a, b = stack_name_filter("x" * 150 + "a"), stack_name_filter("x" * 150 + "b")
    assert len(a) == len(b) == 100 and a != b
