"""Time-bucket arithmetic: the one module that knows how time is cut for rollups and reads.

All times are epoch milliseconds (UTC). Two granularities are stored: 5-minute buckets
(``m5``) and hour buckets (``h1``). A window of ``hours`` H at ``now`` holds every event whose
5-minute bucket starts at or after the 5-minute bucket of ``now - H``; it has no upper end,
because ingestion refuses timestamps more than 5 minutes in the future.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MINUTE_MS = 60_000
BUCKET_MS = 5 * MINUTE_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
HOURLY_POINTS = 20
BUCKET_MINUTES = 5
MAX_FUTURE_MS = 5 * MINUTE_MS

M5 = "m5"
H1 = "h1"
GRANULARITY_MS = {M5: BUCKET_MS, H1: HOUR_MS}


def now_ms() -> int:
    """The wall clock in epoch milliseconds: the default clock of every handler and tool."""
    return int(time.time() * 1000)


def bucket_start(ts_ms: int, size_ms: int = BUCKET_MS) -> int:
    return ts_ms - ts_ms % size_ms


def window_start(now_ms: int, hours: int) -> int:
    """The first 5-minute bucket of the window of ``hours`` ending at ``now_ms``."""
    return bucket_start(now_ms - hours * HOUR_MS)


def in_window(ts_ms: int, now_ms: int, hours: int) -> bool:
    return bucket_start(ts_ms) >= window_start(now_ms, hours)


@dataclass(frozen=True, slots=True)
class Bucket:
    granularity: str
    start: int


def window_cover(now_ms: int, hours: int) -> list[Bucket]:
    """The fewest stored buckets whose union is exactly the window: 5-minute buckets up to the
    first hour boundary, then whole hours up to the hour that holds ``now + 5 min``."""
    last_hour = bucket_start(now_ms + MAX_FUTURE_MS, HOUR_MS)
    return cover(window_start(now_ms, hours), last_hour + HOUR_MS)


def previous_window(now_ms: int, hours: int) -> tuple[int, int]:
    """[start, end) of the window of ``hours`` just before the one ending at ``now_ms``."""
    end = window_start(now_ms, hours)
    return end - hours * HOUR_MS, end


def cover(start: int, end: int) -> list[Bucket]:
    """The fewest stored buckets whose union is [start, end) (both 5-minute aligned)."""
    first_hour = min(-(-start // HOUR_MS) * HOUR_MS, end)  # ceil to the hour
    last_hour = max(bucket_start(end, HOUR_MS), first_hour)
    out = [Bucket(M5, t) for t in range(start, first_hour, BUCKET_MS)]
    out.extend(Bucket(H1, t) for t in range(first_hour, last_hour, HOUR_MS))
    out.extend(Bucket(M5, t) for t in range(last_hour, end, BUCKET_MS))
    return out


def hourly_starts(now_ms: int) -> list[int]:
    """The 20 five-minute bucket starts of the hourly chart, oldest first; the last holds now."""
    last = bucket_start(now_ms)
    return [last - (HOURLY_POINTS - 1 - i) * BUCKET_MS for i in range(HOURLY_POINTS)]


def label(start_ms: int, timezone: str = "UTC") -> str:
    """``HH:MM`` of a bucket start in the configured timezone."""
    tz = UTC if timezone in ("UTC", "") else ZoneInfo(timezone)
    return datetime.fromtimestamp(start_ms / 1000, tz=tz).strftime("%H:%M")
