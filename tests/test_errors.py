"""errors.py: every error we raise is part of the public API, so users can catch it by name."""

import inspect

import airflow_pulumi_decorators as apd
from airflow_pulumi_decorators import errors


def test_every_error_class_is_exported_from_the_package():
    classes = {
        name
        for name, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.PulumiDecoratorError) and obj.__module__ == errors.__name__
    }
    assert len(classes) > 20
    assert classes - set(apd.__all__) == set()
    for name in classes:
        assert getattr(apd, name) is getattr(errors, name)


def test_program_error_declares_what_the_program_raised_with_none_when_unknown():
    error = errors.ProgramError("the program raised", stack="dev", operation="up")
    assert (error.exception_type, error.exception_message, error.resource) == (None, None, None)
    for name in ("exception_type", "exception_message", "resource"):
        assert name in errors.ProgramError.__annotations__
        assert f":ivar {name}:" in errors.ProgramError.__doc__
