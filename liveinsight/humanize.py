"""How numbers read to a person, on the dashboard and in ``liveinsight query`` alike: counts,
durations, rates, percentages and times, in a few characters."""

from __future__ import annotations

from datetime import UTC, datetime

NO_VALUE = "–"


def count(n: int) -> str:
    """``1234567`` -> ``1,234,567``."""
    return f"{n:,}"


def duration(seconds: float) -> str:
    """Seconds as ``42s``, ``3m 05s``, ``2h 07m``, ``3d 04h``."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def iso_time(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in UTC, to the second: ``2026-12-05T15:40:12Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def seconds(value: float) -> str:
    """A short duration to a tenth of a second: ``19.4 s``; a minute or more as :func:`duration`."""
    if value < 59.95:
        return f"{max(0.0, value):.1f} s"
    return duration(round(value))  # 59.96 is "1m 00s", not "59s"


def percent(fraction: float) -> str:
    """``0.0235`` -> ``2.35 %``."""
    return f"{fraction * 100:.2f} %"


def rate(per_second: float | None) -> str:
    """Events per second, or a dash while it cannot be known yet."""
    if per_second is None:
        return NO_VALUE
    if per_second >= 100:
        return f"{per_second:,.0f}/s"
    return f"{per_second:.1f}/s"


def age(seconds: float | None) -> str:
    """How old the data is, ``never`` before the first answer."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return f"{int(max(0.0, seconds))} s"
    return duration(seconds)


def views_lag(events: int | None, lag_ms: int | None) -> str:
    """How far behind the event log the views are: ``0``, ``1.4 s · 132 ev``, or ``unknown``."""
    if events is None:
        return "unknown"
    if events == 0:
        return "0"
    behind = f"{events:,} ev"
    return behind if lag_ms is None else f"{seconds(lag_ms / 1000)} · {behind}"
