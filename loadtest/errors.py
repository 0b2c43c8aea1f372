"""Errors of the load-test runner. Bad arguments and an unreachable API reuse the simulator's
(``BadArgument``, ``TargetUnreachable``); the commands turn each into one ``Error:`` line.

SimulatorError                  (simulator.errors)
├── BadArgument                 an option value or combination that cannot work
├── TargetUnreachable           the API or the DynamoDB endpoint did not answer usefully
└── LocustFailed                Locust could not start or left no statistics behind
"""

from __future__ import annotations

from simulator.errors import SimulatorError


class LocustFailed(SimulatorError):
    pass
