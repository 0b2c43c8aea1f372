"""The browser SDK and the demo site, served by the query function: ``/sdk/...``, ``/demo/``.

One implementation for both places the API runs: the local gateway hands these paths to the
query handler like any other GET, and on AWS the HTTP API routes them to the query Lambda (the
files travel in its package, ``liveinsight/static``). So the README's ``<script src=".../sdk/
liveinsight.js">`` works the same after ``sam deploy``. Only files that exist in the two
folders are served (no path is joined from the request), text only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
FOLDERS = ("sdk", "demo")
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Asset:
    text: str
    media_type: str


@cache
def assets() -> dict[str, Asset]:
    """Request path -> file, read once: ``/sdk/liveinsight.js``, ``/demo/`` (its index)..."""
    out: dict[str, Asset] = {}
    for folder in FOLDERS:
        for file in sorted((STATIC / folder).iterdir()):
            if file.is_file() and file.suffix in MEDIA_TYPES:
                asset = Asset(file.read_text(encoding="utf-8"), MEDIA_TYPES[file.suffix])
                out[f"/{folder}/{file.name}"] = asset
                if file.name == "index.html":
                    out[f"/{folder}/"] = asset
    return out


def is_asset_path(path: str) -> bool:
    """Whether ``path`` lies under one of the asset folders (``/demo`` itself included)."""
    return any(path == f"/{f}" or path.startswith(f"/{f}/") for f in FOLDERS)
