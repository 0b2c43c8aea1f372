"""The one door through which untrusted strings reach the screen.

Page URLs, referrers, session ids and user ids come from whoever sent events. They must be
shown literally: Rich/Textual markup such as ``[bold red]`` must not style (we only ever build
``rich.text.Text``, which never parses markup), and control characters must not reach the
terminal, where ``\\x1b[2J`` would clear the screen. Every non-printable character (C0/C1
controls, DEL, bidi overrides, zero-width and other format characters, line separators) is
shown as its Python escape, e.g. ``\\x1b``, so the reader still sees that it was there.
"""

from __future__ import annotations

from rich.text import Text

ELLIPSIS = "…"


def escape_char(char: str) -> str:
    r"""``'\x1b'`` -> ``'\\x1b'``, ``'\u202e'`` -> ``'\\u202e'``, ``'\n'`` -> ``'\\n'``."""
    return char.encode("unicode_escape").decode("ascii")


def printable(value: object, limit: int | None = None) -> str:
    """``value`` as a single line of printable text, at most ``limit`` characters long."""
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > 4 * limit:
        text = text[: 4 * limit]  # an escape is at most 10 chars; no need to escape megabytes
    if not text.isprintable():
        text = "".join(char if char.isprintable() else escape_char(char) for char in text)
    return shorten(text, limit)


def shorten(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    return text[: limit - 1] + ELLIPSIS


def literal(value: object, limit: int | None = None, style: str = "") -> Text:
    """A ``Text`` showing ``value`` exactly as :func:`printable` renders it, never as markup."""
    return Text(printable(value, limit), style=style, no_wrap=True, overflow="ellipsis")
