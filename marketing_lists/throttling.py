"""Per-client rate limits for the public pages (django-ratelimit), and the client's address.

Counted in Django's cache: with several web processes it must be shared (Redis). The
rates come from ``SUBSCRIPTION_CENTER`` and are read per request, so overrides apply.
"""

import ipaddress
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

from .conf import branding, center_settings


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


def _client_key(group: str, request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def _rate(group: str, request: HttpRequest) -> str:
    """The group is the setting's name: ``"30/m"``, ``"100/5m"``…"""
    return center_settings()[group]


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
            usage = get_usage(request, group=setting, key=_client_key, rate=_rate, increment=True)
            if usage and usage["should_limit"]:
                return too_many_requests(request, retry_after=max(1, usage["time_left"]))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
