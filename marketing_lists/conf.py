"""The subscription center's settings, with defaults for every key left out."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "brand_name": "crm-segments",
    "support_email": "",
    "double_opt_in": False,
    "rate_limit": "30/m",
    # Mail providers send one-click unsubscribes for many people from few addresses.
    "one_click_rate_limit": "600/m",
    "link_max_age_days": None,
    "confirm_max_age_days": 7,
    "num_proxies": 0,
}


def center_settings() -> dict[str, Any]:
    """``settings.SUBSCRIPTION_CENTER`` over the defaults; read per call, so overrides apply."""
    return {**DEFAULTS, **getattr(settings, "SUBSCRIPTION_CENTER", {})}


def days_to_seconds(days: float | None) -> float | None:
    return None if days is None else days * 86400


def branding() -> dict[str, str]:
    """What every public page and email shows about who is writing."""
    conf = center_settings()
    return {"brand_name": conf["brand_name"], "support_email": conf["support_email"]}
