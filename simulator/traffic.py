"""When visitors arrive, and how simulated time relates to the wall clock.

Arrivals are a Poisson process whose rate may follow a daily curve (local hour of a time zone)
and spikes (``OFFSET:LENGTH:FACTOR``). With a fixed number of visitors over a finite window the
arrival times are drawn as that many independent times with density proportional to the rate,
which is exactly a Poisson process conditioned on its count.

All times are epoch milliseconds. ``Window`` maps the simulated clock to the wall clock: speed
1 is real time, 60 is one simulated hour per wall minute, ``inf`` is a backfill at full speed.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from simulator.errors import BadArgument

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DEFAULT_RATE_PER_MIN = 10.0
SERVER_PAST_LIMIT_MS = 72 * HOUR_MS  # the server refuses older timestamps (SPEC section 4)
SERVER_FUTURE_LIMIT_MS = 5 * MINUTE_MS
PAST_MARGIN_MS = 5 * MINUTE_MS  # stay clear of the 72 h edge while the run itself takes time

# Relative traffic by local hour (0..23) of a consumer site: night trough, lunch and evening peaks.
DAILY_CURVE = (
    0.55,
    0.35,
    0.22,
    0.16,
    0.14,
    0.18,
    0.32,
    0.55,
    0.85,
    1.05,
    1.2,
    1.3,
    1.4,
    1.3,
    1.2,
    1.15,
    1.15,
    1.2,
    1.3,
    1.45,
    1.6,
    1.65,
    1.4,
    0.95,
)
_CURVE_MEAN = sum(DAILY_CURVE) / len(DAILY_CURVE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": MINUTE_MS, "h": HOUR_MS, "d": 24 * HOUR_MS}


def parse_duration(text: str) -> int:
    """``90s``, ``30m``, ``2h``, ``1h30m``, ``1d`` (a bare number is seconds) -> milliseconds."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return int(float(cleaned) * 1000)
    parts = _DURATION_PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise BadArgument(f"{text!r} is not a duration; use e.g. 90s, 30m, 2h, 1h30m or 1d")
    return int(sum(float(n) * _UNIT_MS[u] for n, u in parts))


def parse_start(text: str) -> int:
    """Epoch milliseconds, or an ISO 8601 time (UTC when it has no offset) -> epoch ms."""
    cleaned = text.strip()
    if re.fullmatch(r"\d{10,16}", cleaned):
        return int(cleaned)
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise BadArgument(
            f"{text!r} is not a time; use ISO 8601 (2026-01-16T09:00:00Z) or epoch ms"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Spike:
    """``factor`` times the arrival rate from ``offset_ms`` after the window start, for ``length_ms``."""

    offset_ms: int
    length_ms: int
    factor: float

    @classmethod
    def parse(cls, text: str) -> Spike:
        parts = text.split(":")
        if len(parts) != 3:
            raise BadArgument(f"spike {text!r} must be OFFSET:LENGTH:FACTOR, e.g. 30m:10m:4")
        try:
            factor = float(parts[2])
        except ValueError:
            raise BadArgument(f"spike factor {parts[2]!r} is not a number") from None
        if factor <= 0 or not math.isfinite(factor):
            raise BadArgument(f"spike factor must be a positive number, got {parts[2]}")
        return cls(parse_duration(parts[0]), parse_duration(parts[1]), factor)


@dataclass(frozen=True)
class Intensity:
    """The arrival rate over time: ``per_minute`` x daily curve x spikes."""

    per_minute: float
    start_ms: int
    curve_tz: str | None = None
    spikes: tuple[Spike, ...] = ()

    def __post_init__(self) -> None:
        if self.curve_tz is not None:
            try:
                ZoneInfo(self.curve_tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise BadArgument(
                    f"unknown time zone {self.curve_tz!r} for the daily curve"
                ) from None

    def factor(self, ts_ms: int) -> float:
        value = 1.0
        if self.curve_tz is not None:
            hour = datetime.fromtimestamp(ts_ms / 1000, tz=ZoneInfo(self.curve_tz)).hour
            value = DAILY_CURVE[hour] / _CURVE_MEAN
        offset = ts_ms - self.start_ms
        for spike in self.spikes:
            if spike.offset_ms <= offset < spike.offset_ms + spike.length_ms:
                value *= spike.factor
        return value

    @property
    def max_factor(self) -> float:
        curve = max(DAILY_CURVE) / _CURVE_MEAN if self.curve_tz is not None else 1.0
        return curve * math.prod(s.factor for s in self.spikes if s.factor > 1)


def poisson_arrivals(rng: random.Random, intensity: Intensity, end_ms: int | None) -> Iterator[int]:
    """Arrival times from ``intensity.start_ms`` to ``end_ms`` (open-ended when None), by thinning."""
    peak_per_ms = intensity.per_minute * intensity.max_factor / MINUTE_MS
    if peak_per_ms <= 0:
        return
    t = float(intensity.start_ms)
    while True:
        t += rng.expovariate(peak_per_ms)
        if end_ms is not None and t >= end_ms:
            return
        if rng.random() * intensity.max_factor <= intensity.factor(int(t)):
            yield int(t)


def fixed_arrivals(rng: random.Random, intensity: Intensity, end_ms: int, count: int) -> list[int]:
    """Exactly ``count`` arrival times in [start, end), density proportional to the rate."""
    start, span = intensity.start_ms, end_ms - intensity.start_ms
    peak = intensity.max_factor
    times: list[int] = []
    while len(times) < count:
        t = start + int(rng.random() * span)
        if rng.random() * peak <= intensity.factor(t):
            times.append(t)
    times.sort()
    return times


@dataclass(frozen=True)
class Window:
    """The simulated time span and its pace. ``span_ms`` None = open-ended (until stopped)."""

    start_ms: int
    span_ms: int | None
    speed: float  # simulated ms per wall ms; math.inf = no pacing (backfill)

    @property
    def end_ms(self) -> int | None:
        return None if self.span_ms is None else self.start_ms + self.span_ms

    @property
    def paced(self) -> bool:
        return math.isfinite(self.speed)

    def wall_offset_s(self, ts_ms: int) -> float:
        """Seconds after the run's start at which simulated time ``ts_ms`` is due."""
        return 0.0 if not self.paced else (ts_ms - self.start_ms) / self.speed / 1000

    def check_server_limits(self, now_ms: int) -> None:
        """Refuse windows whose timestamps the server would reject (72 h past, 5 min future)."""
        if self.start_ms < now_ms - SERVER_PAST_LIMIT_MS + PAST_MARGIN_MS:
            hours = (now_ms - self.start_ms) / HOUR_MS
            raise BadArgument(
                f"the simulated clock starts {hours:.1f} h ago; the server refuses events older than 72 h"
            )
        end = self.end_ms
        if end is not None and not self.paced and end > now_ms + SERVER_FUTURE_LIMIT_MS:
            raise BadArgument(
                "a backfill must end before now (+5 min): the server refuses future timestamps"
            )
        if self.paced and self.speed > 1 and self.start_ms > now_ms:
            raise BadArgument(
                "an accelerated run must start in the past, or its clock runs into the future"
            )


def plan_window(
    now_ms: int,
    *,
    backfill_ms: int | None = None,
    duration_ms: int | None = None,
    visitors: int | None = None,
    rate_per_min: float | None = None,
    speed: float = 1.0,
    start_ms: int | None = None,
) -> tuple[Window, int | None, float]:
    """Resolve the time options into a window, a visitor count (or None) and a rate.

    Backfill: the past ``backfill_ms`` at full speed (ending now unless ``start_ms`` is given).
    Otherwise ``speed`` paces the clock; a speed above 1 starts the clock ``span`` in the past so
    that simulated time never overtakes the wall clock (the server refuses future events).
    Given a visitor count and no span, the span is ``visitors / rate``.
    """
    if backfill_ms is not None and duration_ms is not None:
        raise BadArgument("use either --backfill or --duration, not both")
    if backfill_ms is not None and speed != 1.0:
        raise BadArgument(
            "--backfill runs at full speed; drop --speed (or use --duration with --speed)"
        )
    if speed <= 0 or not math.isfinite(speed):
        raise BadArgument(f"--speed must be a positive number, got {speed}")
    span = backfill_ms if backfill_ms is not None else duration_ms
    if span is not None and span <= 0:
        raise BadArgument("the duration must be positive")
    if visitors is not None and span is not None and rate_per_min is not None:
        raise BadArgument("give at most two of --visitors, --rate and --duration/--backfill")
    if visitors is not None and span is not None:
        rate = visitors / (span / MINUTE_MS)
    else:
        rate = DEFAULT_RATE_PER_MIN if rate_per_min is None else rate_per_min
        if visitors is not None:
            if rate <= 0:
                raise BadArgument(
                    "--rate must be positive when --visitors sets the length of the run"
                )
            span = max(1, int(visitors / rate * MINUTE_MS))
    if backfill_ms is not None:
        pace = math.inf
    else:
        pace = speed
        if pace > 1 and span is None:
            raise BadArgument(
                "an accelerated run needs --duration or --visitors (its clock starts that far back)"
            )
    if start_ms is None:
        start_ms = now_ms if pace == 1.0 else now_ms - (span or 0)
    return Window(start_ms, span, pace), visitors, rate
