"""LiveInsight: real-time web analytics, run locally for real.

The core package: event validation, pure session rules, the DynamoDB store, the ingest and
query Lambda handlers, the local API gateway, the DynamoDB Local runtime and the CLI.
It never imports ``simulator``, ``loadtest`` or ``tui``; they import it.
"""

__version__ = "0.1.0"
