"""What a Locust process needs to know about the run, handed over in ``LIVEINSIGHT_LOADTEST_*``.

The runner (a normal process, boto3 and all) starts Locust as a subprocess; the locustfile
reads these variables once at import (``LoadConfig.from_env``). Locust's own options (host,
users, spawn rate, run time, processes) stay on Locust's command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from simulator.errors import BadArgument
from simulator.presets import DEFAULT_PRESET, PRESETS

ENV_PREFIX = "LIVEINSIGHT_LOADTEST_"
DEFAULT_WAIT = "0.1-0.5"
DEFAULT_BATCH = 20
DEFAULT_CRAWLER_SHARE = 0.05
DEFAULT_IDLE_RETURN_SHARE = 0.05
SHAPES = ("steady", "ramp", "spike")
BATCH_MODES = ("page", "fill")
# Task weights (single-event posts, batched posts) per traffic mix: requests, not events.
TRAFFIC = {"mixed": (4, 1), "single": (1, 0), "batched": (0, 1)}


def parse_wait(text: str) -> tuple[float, float]:
    """``0.1-0.5`` (seconds, a range) or ``0`` / ``0.2`` (constant) -> (min, max) seconds."""
    parts = text.strip().split("-")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or not 0 <= values[0] <= values[1] <= 3600:
        raise BadArgument(
            f"--wait {text!r} is not a wait time; use seconds such as 0.5, or a range such as 0.1-0.5"
        )
    return values[0], values[1]


@dataclass(frozen=True, kw_only=True)
class LoadConfig:
    """One run's knobs, as Locust processes see them. ``ledger_dir`` None: no ledger written."""

    run_id: str = "manual"
    ledger_dir: str | None = None
    preset: str = DEFAULT_PRESET
    wait: str = DEFAULT_WAIT
    batch: int = DEFAULT_BATCH
    batch_mode: str = "page"  # page: flush at page unload or at `batch`; fill: always `batch`
    crawler_share: float = DEFAULT_CRAWLER_SHARE
    idle_return_share: float = DEFAULT_IDLE_RETURN_SHARE
    shape: str | None = None  # None: Locust's plain -u/-r/-t behaviour (or its web UI)
    traffic: str = "mixed"

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise BadArgument(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        parse_wait(self.wait)
        if not 1 <= self.batch <= 100:
            raise BadArgument(f"--batch must be between 1 and 100 events, got {self.batch}")
        if self.batch_mode not in BATCH_MODES:
            raise BadArgument(f"batch mode must be one of {', '.join(BATCH_MODES)}")
        for name in ("crawler_share", "idle_return_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise BadArgument(f"--{name.replace('_', '-')} must be between 0 and 1")
        if self.shape is not None and self.shape not in SHAPES:
            raise BadArgument(f"unknown shape {self.shape!r}; choose one of {', '.join(SHAPES)}")
        if self.traffic not in TRAFFIC:
            raise BadArgument(
                f"unknown traffic {self.traffic!r}; choose one of {', '.join(TRAFFIC)}"
            )

    @property
    def task_weights(self) -> tuple[int, int]:
        """(single-event posts, batched posts) relative task weights."""
        return TRAFFIC[self.traffic]

    @property
    def wait_s(self) -> tuple[float, float]:
        return parse_wait(self.wait)

    def to_env(self) -> dict[str, str]:
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoadConfig:
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            if f.name == "batch":
                kwargs[f.name] = int(raw)
            elif f.name.endswith("_share"):
                kwargs[f.name] = float(raw)
            else:
                kwargs[f.name] = raw
        return cls(**kwargs)  # type: ignore[arg-type]
