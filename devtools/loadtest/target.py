"""The load test's target: tagged contacts, lists, a live segment and an API user, the records
clients send, and their removal afterwards.
"""

import random
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.db.models import Q
from django.utils import timezone
from django_q.conf import Conf
from rest_framework.authtoken.models import Token

from contacts.links import subscription_center_url, unsubscribe_url
from contacts.models import Contact
from interactions.models import Interaction
from interactions.services import interactions_ingest
from marketing_lists.models import ConsentEvent, MarketingList
from segments import services
from segments.models import Segment

# Every client comes from 127.0.0.1, so the per-address limits would measure the
# limiter: the run raises them out of reach. Each request is still counted in the cache.
RATE = "1000000/m"
RATE_SETTINGS = (
    "API_THROTTLE_USER",
    "API_THROTTLE_ANON",
    "SUBSCRIPTION_RATE_LIMIT",
    "ONE_CLICK_RATE_LIMIT",
)
GUNICORN_CONF = settings.BASE_DIR / "deploy" / "gunicorn.conf.py"
PERMISSIONS = ("contacts.view_contact", "interactions.add_interaction", "segments.view_segment")

# How often a client makes each kind of request, in rounds. An ingest carries a whole batch.
MIX = {"ingest": 3, "members": 2, "contacts": 1, "center": 1, "one_click": 1}
KINDS = ("ingest", "members", "contacts", "center_page", "center_save", "one_click")
# Types sent, by weight: clicks are rare enough that the segment keeps changing.
TYPES = {"email_opened": 60, "page_visited": 35, "email_clicked": 5}
OVERLAP = 0.25  # share of each batch that re-sends ids handed out just before
RECENT_BATCHES = 4  # how far back those ids go: likely still in flight in other clients
NO_ANSWER = 0  # the status recorded when the connection failed
REQUEST_TIMEOUT_S = 120
PROGRESS_EVERY_S = 5
CATCH_UP_TIMEOUT_S = 120


class LoadError(Exception):
    """The run cannot start: bad options, or a database it must not run on."""


@dataclass(frozen=True)
class Target:
    """What the run created and the clients use."""

    tag: str
    token: str
    segment_id: int
    list_ids: list[int]
    contact_ids: list[int]
    center_paths: list[str]
    one_click_paths: list[str]

    @property
    def source(self) -> str:
        return _source(self.tag)

    @property
    def id_prefix(self) -> str:
        return f"{self.source}-"


def _source(tag: str) -> str:
    """The ``source`` of every interaction the run sends."""
    return f"load-{tag}"


def _email_domain(tag: str) -> str:
    return f"{tag}.load.invalid"


def _clicked(source: str) -> dict:
    return {
        "version": 1,
        "blocks": [
            {
                "kind": "behavior",
                "interaction": "email_clicked",
                "where": {"field": "source", "op": "eq", "value": source},
            }
        ],
    }


def _api_user(tag: str) -> str:
    user = User.objects.create_user(username=f"load-{tag}")
    wanted = Q()
    for perm in PERMISSIONS:
        app_label, codename = perm.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    user.user_permissions.set(Permission.objects.filter(wanted))
    return Token.objects.create(user=user).key


def _go_live_here(segment: Segment) -> None:
    """Take the segment live with its full evaluation run in this process, before the load."""
    previous, Conf.SYNC = Conf.SYNC, True
    try:
        services.segment_go_live(segment=segment)
    finally:
        Conf.SYNC = previous


def prepare(tag: str, contacts: int) -> Target:
    domain = _email_domain(tag)
    Contact.objects.bulk_create(
        (Contact(email=f"c{number}@{domain}") for number in range(contacts)), batch_size=1000
    )
    people = list(Contact.objects.filter(email__endswith=f"@{domain}").order_by("pk"))
    lists = [
        MarketingList.objects.create(
            name=f"Load {tag} {name}", kind=MarketingList.Kind.SUBSCRIPTION, public_name=name
        )
        for name in ("News", "Offers")
    ]
    source = _source(tag)
    # A tenth of the contacts clicked before the run, so member reads return pages at once.
    now = timezone.now()
    interactions_ingest(
        records=[
            {"contact": person.pk, "type": "email_clicked", "occurred_at": now, "source": source}
            for person in people[::10]
        ]
    )
    segment = services.segment_create(name=f"Load {tag}", definition=_clicked(source))
    _go_live_here(segment)
    return Target(
        tag=tag,
        token=_api_user(tag),
        segment_id=segment.pk,
        list_ids=[item.pk for item in lists],
        contact_ids=[person.pk for person in people],
        center_paths=[urlsplit(subscription_center_url(person)).path for person in people],
        one_click_paths=[
            urlsplit(unsubscribe_url(person, lists[index % len(lists)])).path
            for index, person in enumerate(people)
        ],
    )


def cleanup(tag: str) -> None:
    """Delete everything the run created; its interactions go with its contacts."""
    Segment.objects.filter(name=f"Load {tag}").delete()
    contacts = Contact.objects.filter(email__endswith=f"@{_email_domain(tag)}")
    Interaction.objects.filter(contact__in=contacts).delete()
    ConsentEvent.objects.filter(contact__in=contacts).delete()
    contacts.delete()
    MarketingList.objects.filter(name__startswith=f"Load {tag} ").delete()
    User.objects.filter(username=f"load-{tag}").delete()


class ExternalIds:
    """Hands out external ids for batches: mostly new, some handed out just before."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def take(self, size: int, rng: random.Random) -> list[int]:
        with self._lock:
            start = self._next
            recent = range(max(0, start - RECENT_BATCHES * size), start)
            repeats = min(int(size * OVERLAP), len(recent))
            self._next += size - repeats
        ids = [*range(start, start + size - repeats), *rng.sample(recent, repeats)]
        rng.shuffle(ids)
        return ids


def batch_records(target: Target, ids: list[int], rng: random.Random) -> list[dict]:
    occurred_at = timezone.now().isoformat()
    types = rng.choices(list(TYPES), weights=list(TYPES.values()), k=len(ids))
    return [
        {
            "contact": rng.choice(target.contact_ids),
            "type": kind,
            "occurred_at": occurred_at,
            "source": target.source,
            "channel": "email",
            "external_id": f"{target.id_prefix}{number}",
        }
        for number, kind in zip(ids, types, strict=True)
    ]
