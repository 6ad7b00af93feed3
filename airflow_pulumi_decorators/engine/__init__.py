"""The engine: the only package that imports ``pulumi.automation``.

It selects (or creates) the stack with the inline program in one call, sets all config in one call, runs one
operation, streams the engine's output line by line, and translates Pulumi's errors into ours. Pulumi is
imported inside functions: importing this package loads no Pulumi module.

- :mod:`.request`: what a run is asked (:class:`OperationRequest`, its :class:`RunContext`) and reports
  (:class:`OperationResult`);
- :mod:`.run`: :class:`Engine`, the run loop: worker thread, lock retry with back-off, stop;
- :mod:`.lockwait`: the lock wait's bookkeeping (deadline, back-off, attempts);
- :mod:`.operation`: one operation on one stack through the Automation API;
- :mod:`.stack`: the run's workspace and stack: select or create in one call, outputs and summary from
  the event stream;
- :mod:`.program`: the user's function as the inline program;
- :mod:`.events`: the engine's output and event stream;
- :mod:`.commands`: our CLI process as Pulumi's ``PulumiCommand``, and the stop guard;
- :mod:`.translate`: Pulumi's errors as ours (pure functions);
- :mod:`.compat`: the private Pulumi names still needed, guarded.
"""

from airflow_pulumi_decorators.engine.request import OperationRequest, OperationResult, RunContext
from airflow_pulumi_decorators.engine.run import Engine

__all__ = ["Engine", "OperationRequest", "OperationResult", "RunContext"]
