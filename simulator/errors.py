"""Errors the simulator raises on purpose; the commands turn each into one line, exit 2 for
a BadArgument (a usage error) and 1 for the rest.

SimulatorError
├── BadArgument          an option value or combination that cannot work
├── TargetUnreachable    the API (or DynamoDB endpoint) did not answer usefully
├── ViewsBehind          the API's views did not catch up with its event log in time
└── LedgerError          a ledger or recording file is missing or unreadable
"""

from __future__ import annotations

DRIFT_EXIT = 3  # verify or a load test's reconciliation found drift (2: usage, 1: could not check)


class SimulatorError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadArgument(SimulatorError):
    pass


class TargetUnreachable(SimulatorError):
    pass


class ViewsBehind(SimulatorError):
    pass


class LedgerError(SimulatorError):
    pass
