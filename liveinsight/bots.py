"""Crawler detection by user agent, with the maintained crawlerdetect pattern list.

crawlerdetect also flags generic HTTP client libraries (curl, python-requests, httpx, Go's
client, ...). Those are how server-side trackers, test scripts and load generators *post*
events; they do not crawl pages. So a match on one of those library tokens alone does not
make a crawler here; every other match (Googlebot, bingbot, HeadlessChrome, ...) does.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from crawlerdetect import CrawlerDetect

HTTP_CLIENT_TOKENS = frozenset(
    token.lower()
    for token in (
        "curl",
        "python-requests",
        "python-httpx",
        "python-urllib",
        "aiohttp/",
        "go-http-client",
        "okhttp",
        "node-fetch",
        "axios/",
    )
)

_detector = CrawlerDetect()
_lock = threading.Lock()  # CrawlerDetect keeps the last match on the instance


@lru_cache(maxsize=4096)
def is_crawler(user_agent: str) -> bool:
    if not user_agent:
        return False
    with _lock:
        if not _detector.isCrawler(user_agent):
            return False
        match = (_detector.getMatches() or "").lower()
    return match not in HTTP_CLIENT_TOKENS
