"""Per-client rate limits for the public pages, counted in Django's cache.

A fixed window per client address: cheap, and enough to stop a script hammering
signed links. With several web processes the cache must be shared (Redis).
"""

import ipaddress
import re
import time
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .conf import branding, center_settings

RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/m"`` → (30, 60); ``"100/5m"`` → (100, 300)."""
    match = RATE_RE.match(rate)
    if not match:
        raise ValueError(f"Rate {rate!r} must look like '30/m' or '100/5m'.")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * SECONDS[unit]


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, skipping as many X-Forwarded-For hops as there are proxies.

    Only the hops our own proxies added can be trusted; anything left of them is
    whatever the client chose to send.
    """
    proxies = center_settings()["num_proxies"]
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(hops) >= proxies and _is_ip(hops[-proxies]):
            return hops[-proxies]
    address = request.META.get("REMOTE_ADDR", "")
    return address if _is_ip(address) else None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def seconds_until_allowed(*, scope: str, client: str, rate: str) -> int:
    """Count one request; 0 while within the rate, else how long to wait."""
    limit, period = parse_rate(rate)
    now = time.time()
    key = f"ratelimit:{scope}:{client}:{int(now // period)}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.set(key, 1, timeout=period + 1)
        count = 1
    return 0 if count <= limit else max(1, int(period - now % period))


def too_many_requests(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    context = {
        **branding(),
        "title": "Too many requests",
        "message": "You have made many requests in a short time. "
        "Please wait a minute, then try again.",
    }
    response = render(request, "subscriptions/message.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limit(setting: str) -> Callable:
    """Limit a view to the rate named by ``SUBSCRIPTION_CENTER[setting]`` per client."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            wait = seconds_until_allowed(
                scope=setting,
                client=client_ip(request) or "unknown",
                rate=center_settings()[setting],
            )
            if wait:
                return too_many_requests(request, retry_after=wait)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
