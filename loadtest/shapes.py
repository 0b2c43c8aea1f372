"""Locust ``LoadTestShape`` classes for the shapes in ``loadtest.plans``.

They read Locust's common options (``-u`` peak users, ``-r`` spawn rate, ``-t`` run time), so
the same command line drives every shape. Imports Locust: load only in Locust processes.
The locustfile binds the one selected by name to a module global (Locust runs the shape class
it finds there; several would be ambiguous).
"""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape

from loadtest import plans


class PlannedShape(LoadTestShape):
    abstract = True
    use_common_options = True
    shape: ClassVar[str] = "steady"

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        return plans.target(
            self.shape,
            self.get_run_time(),
            users=int(getattr(options, "num_users", None) or 1),
            spawn_rate=float(getattr(options, "spawn_rate", None) or 1),
            run_time_s=getattr(options, "run_time", None),
        )


class SteadyShape(PlannedShape):
    abstract = False
    shape = "steady"


class RampShape(PlannedShape):
    abstract = False
    shape = "ramp"


class SpikeShape(PlannedShape):
    abstract = False
    shape = "spike"


SHAPES: dict[str, type[PlannedShape]] = {
    cls.shape: cls for cls in (SteadyShape, RampShape, SpikeShape)
}
