"""User agents: a curated, weighted list of current browsers by device class, and crawlers.

The strings are what real browsers of 2025 send (Chrome's reduced UA, Safari on iOS 17/18,
Samsung Internet, Naver Whale, in-app browsers of Naver and Instagram); weights are a rough
Korean/global web mix. ``device_class`` classifies any string with ua-parser, which is how the
end-of-run summary measures the mobile share of visits (it does not trust our own labels).
"""

from __future__ import annotations

from liveinsight.acquisition import DESKTOP, MOBILE, TABLET, device_class

__all__ = ["device_class"]  # the core's, re-exported

_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
_LINUX = "Mozilla/5.0 (X11; Linux x86_64)"
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"

# (weight within its device class, user agent)
HUMAN_AGENTS: dict[str, tuple[tuple[int, str], ...]] = {
    MOBILE: (
        (
            24,
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) {_WEBKIT} Version/18.5 Mobile/15E148 Safari/604.1",
        ),
        (
            10,
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) {_WEBKIT} Version/18.6 Mobile/15E148 Safari/604.1",
        ),
        (
            6,
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {_WEBKIT} Version/17.7 Mobile/15E148 Safari/604.1",
        ),
        (
            5,
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) {_WEBKIT} CriOS/138.0.7204.119 Mobile/15E148 Safari/604.1",
        ),
        (20, f"Mozilla/5.0 (Linux; Android 10; K) {_BLINK} Chrome/139.0.0.0 Mobile Safari/537.36"),
        (8, f"Mozilla/5.0 (Linux; Android 10; K) {_BLINK} Chrome/138.0.0.0 Mobile Safari/537.36"),
        (
            12,
            f"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928N) {_BLINK} SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36",
        ),
        (
            5,
            f"Mozilla/5.0 (Linux; Android 15; SAMSUNG SM-S938N) {_BLINK} SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36",
        ),
        (
            4,
            f"Mozilla/5.0 (Linux; Android 14; SM-S918N Build/UP1A.231005.007; wv) {_BLINK} Version/4.0 Chrome/138.0.7204.63 Mobile Safari/537.36 NAVER(inapp; search; 2000; 12.12.5)",
        ),
        (
            3,
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) {_WEBKIT} Mobile/22F76 Instagram 385.0.0.37.76 (iPhone15,2; iOS 18_5; ko_KR; ko; scale=3.00; 1179x2556; 753296361)",
        ),
        (2, "Mozilla/5.0 (Android 15; Mobile; rv:142.0) Gecko/142.0 Firefox/142.0"),
    ),
    TABLET: (
        (
            6,
            f"Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) {_WEBKIT} Version/18.5 Mobile/15E148 Safari/604.1",
        ),
        (3, f"Mozilla/5.0 (Linux; Android 14; SM-X710N) {_BLINK} Chrome/139.0.0.0 Safari/537.36"),
    ),
    DESKTOP: (
        (30, f"{_WIN} {_BLINK} Chrome/139.0.0.0 Safari/537.36"),
        (12, f"{_WIN} {_BLINK} Chrome/138.0.0.0 Safari/537.36"),
        (10, f"{_MAC} {_BLINK} Chrome/139.0.0.0 Safari/537.36"),
        (10, f"{_WIN} {_BLINK} Chrome/139.0.0.0 Safari/537.36 Edg/139.0.0.0"),
        (9, f"{_MAC} {_WEBKIT} Version/18.5 Safari/605.1.15"),
        (5, f"{_WIN} {_BLINK} Chrome/136.0.0.0 Whale/4.32.315.22 Safari/537.36"),
        (5, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:142.0) Gecko/20100101 Firefox/142.0"),
        (2, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:142.0) Gecko/20100101 Firefox/142.0"),
        (2, f"{_LINUX} {_BLINK} Chrome/139.0.0.0 Safari/537.36"),
        (1, "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:142.0) Gecko/20100101 Firefox/142.0"),
    ),
}

# Crawlers the server must answer ``filtered``; weights as seen in access logs of a Korean shop.
CRAWLER_AGENTS: tuple[tuple[int, str], ...] = (
    (25, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    (
        15,
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.7258.66 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ),
    (12, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
    (12, "Mozilla/5.0 (compatible; Yeti/1.1; +https://naver.me/spd)"),
    (5, "Mozilla/5.0 (compatible; Daum/4.1; +http://cs.daum.net/faq/15/4118.html?faqId=28966)"),
    (6, "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"),
    (5, "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
    (5, "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"),
    (4, "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
    (
        4,
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    ),
    (
        4,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    ),
    (3, "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"),
)


def all_human_agents() -> list[str]:
    return [ua for agents in HUMAN_AGENTS.values() for _, ua in agents]


def all_crawler_agents() -> list[str]:
    return [ua for _, ua in CRAWLER_AGENTS]
