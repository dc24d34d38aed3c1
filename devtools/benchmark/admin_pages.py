"""Admin pages and API lists timed in-process on the benchmark's data: ``admin_page_ms``.

Each page is requested through Django's test client as a superuser (every section
shown) and an API token; the figure is the best of ``TRIES`` warm requests, so it times
the page's queries and rendering rather than the first request's cold caches.
"""

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token

from contacts.models import Contact
from segments.models import Segment

ADMIN_USER = "benchmark-admin"
TRIES = 3


def _pages(segment: Segment | None, contact: Contact) -> dict[str, str]:
    """Page name → URL: every changelist a marketer opens, its searches and filters."""
    search_term = contact.email.split("@")[0]
    pages = {
        "admin_home": reverse("admin:index"),
        "contacts": reverse("admin:contacts_contact_changelist"),
        "contacts_search": _with(reverse("admin:contacts_contact_changelist"), q=search_term),
        "contact": reverse("admin:contacts_contact_change", args=[contact.pk]),
        "accounts": reverse("admin:contacts_account_changelist"),
        "interactions": reverse("admin:interactions_interaction_changelist"),
        "interactions_by_type": _with(
            reverse("admin:interactions_interaction_changelist"), type="email_clicked"
        ),
        "interactions_of_contact": _with(
            reverse("admin:interactions_interaction_changelist"), contact__id__exact=contact.pk
        ),
        "interactions_search": _with(
            reverse("admin:interactions_interaction_changelist"), q=contact.email
        ),
        "segments": reverse("admin:segments_segment_changelist"),
        "list_memberships": reverse("admin:marketing_lists_listmembership_changelist"),
        "consent_events": reverse("admin:marketing_lists_consentevent_changelist"),
        "api_contacts": reverse("contact-list"),
        "api_interactions": reverse("interaction-list"),
        "api_segments": reverse("segment-list"),
    }
    if segment is not None:
        pages["segment"] = reverse("admin:segments_segment_change", args=[segment.pk])
        pages["api_contacts_of_segment"] = _with(reverse("contact-list"), segment=segment.pk)
    return pages


def _with(url: str, **params) -> str:
    return f"{url}?{urlencode(params)}"


def _best_ms(client: Client, url: str) -> float:
    best = None
    for _ in range(TRIES):
        started = time.perf_counter()
        status = client.get(url, secure=True).status_code
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
        best = elapsed if best is None else min(best, elapsed)
    return round(best, 1)


def measure_admin_pages(*, say: Callable[[str], None] = print) -> dict:
    """``admin_page_ms``, the slowest page's time, and ``admin_page_ms_<page>`` for each.

    The segment pages show the largest live segment.
    """
    segment = Segment.objects.filter(status=Segment.Status.LIVE).order_by("-member_count").first()
    contact = Contact.objects.order_by("pk")[Contact.objects.count() // 2]
    user, _ = get_user_model().objects.get_or_create(
        username=ADMIN_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    token = Token.objects.get_or_create(user=user)[0].key
    figures = {}
    try:
        with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False):
            browser, api = Client(), Client(headers={"Authorization": f"Token {token}"})
            browser.force_login(user)
            for name, url in _pages(segment, contact).items():
                client = api if name.startswith("api_") else browser
                figures[name] = _best_ms(client, url)
                say(f"  {name}: {figures[name]} ms")
    finally:
        user.delete()
    return {
        "admin_page_ms": max(figures.values()),
        **{f"admin_page_ms_{name}": ms for name, ms in figures.items()},
    }
