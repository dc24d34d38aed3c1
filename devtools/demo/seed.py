"""Seeding, flushing and preparing the demo: what the ``seed_demo`` and ``demo`` commands call."""

import dataclasses
import datetime
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from contacts.models import Account, Contact
from interactions.models import Interaction
from marketing_lists.models import ConsentEvent, ListMembership, MarketingList

from .catalog import (
    CHUNK,
    CONSENT_COLUMNS,
    CONSENT_SOURCES,
    CONTACT_COLUMNS,
    CONTACTS_PER_ACCOUNT,
    INTERACTION_COLUMNS,
    LISTS,
    MEMBERSHIP_COLUMNS,
    DemoError,
)
from .generator import (
    DemoLogin,
    DemoSummary,
    Generator,
    Person,
    Table,
    Weighted,
    indexes_built_after,
)
from .segments import demo_segments_create

# No account weighs more than this many times the least: a long tail without one giant.
ACCOUNT_WEIGHT_CAP = 8


def demo_data_flush() -> None:
    """Delete contacts, accounts, interactions, marketing lists and consent events.

    Segments stay; their memberships go with the contacts.
    """
    with transaction.atomic():
        # Biggest table first, in one statement, so the contact cascade finds nothing.
        Interaction.objects.all().delete()
        ConsentEvent.objects.all().delete()
        MarketingList.objects.all().delete()
        Contact.objects.all().delete()
        Account.objects.all().delete()


def demo_data_seed(
    *,
    contacts: int = 5000,
    seed: int = 0,
    flush: bool = False,
    now: datetime.datetime | None = None,
    progress: bool = False,
) -> DemoSummary:
    """Fill an empty CRM with accounts, contacts, a year of interactions and lists.

    Refuses when contacts exist, unless ``flush`` deletes the data first: demo
    rows mixed with real ones would help nobody. All or nothing: one transaction.
    Rows are inserted directly, so no signals fire; live segments catch up on
    their next scheduled evaluation.
    """
    if contacts < 1:
        raise DemoError("The number of contacts must be at least 1.")
    with transaction.atomic():
        if flush:
            demo_data_flush()
        elif existing := Contact.objects.count():
            raise DemoError(
                f"There are already {existing} contacts. Use --flush to delete them, with "
                "their accounts, interactions and marketing lists, and seed demo data afresh."
            )
        with (
            indexes_built_after(Interaction),
            tqdm(total=contacts, unit="contact", disable=not progress) as bar,
        ):
            summary = _seed(
                contacts=contacts,
                generate=Generator(seed=seed, now=now or timezone.now()),
                progress=bar.update,
            )
    return dataclasses.replace(summary, segments=demo_segments_create(now=now))


def _seed(*, contacts: int, generate: Generator, progress: Callable[[int], Any]) -> DemoSummary:
    now = generate.now
    contact_table = Table(Contact, CONTACT_COLUMNS, fixed={"created_at": now, "updated_at": now})
    interaction_table = Table(Interaction, INTERACTION_COLUMNS, fixed={"created_at": now})
    membership_table = Table(ListMembership, MEMBERSHIP_COLUMNS)
    consent_table = Table(ConsentEvent, CONSENT_COLUMNS, fixed={"user_agent": ""})
    accounts = Account.objects.bulk_create(
        generate.accounts(max(5, contacts // CONTACTS_PER_ACCOUNT)), batch_size=CHUNK
    )
    lists = MarketingList.objects.bulk_create(
        MarketingList(name=name, kind=kind, public_name=public, public_description=about)
        for name, kind, public, about, _ in LISTS
    )
    # A long tail: a few large customers, many small ones.
    picker = Weighted(
        (account, min(generate.rng.paretovariate(1.2), ACCOUNT_WEIGHT_CAP)) for account in accounts
    )
    subscription_lists = {
        marketing_list.pk
        for marketing_list in lists
        if marketing_list.kind == MarketingList.Kind.SUBSCRIPTION
    }
    interactions = memberships = consents = 0
    for start in range(0, contacts, CHUNK):
        people = [
            generate.person(number, picker)
            for number in range(start + 1, min(start + CHUNK, contacts) + 1)
        ]
        ids = _insert_contacts(contact_table, people)
        interactions += interaction_table.insert(
            row for person in people for row in generate.interactions(ids[person.email], person)
        )
        rows = [
            row
            for person in people
            for row in generate.memberships(ids[person.email], person, lists)
        ]
        memberships += membership_table.insert(rows)
        consents += consent_table.insert(_consent_events(rows, subscription_lists))
        progress(len(people))
    return DemoSummary(
        accounts=len(accounts),
        contacts=contacts,
        interactions=interactions,
        lists=len(lists),
        list_memberships=memberships,
        consent_events=consents,
    )


def _consent_events(memberships: list[tuple], subscription_lists: set[int]) -> Iterator[tuple]:
    """The consent log of the subscriptions: who joined each list, and who left, when."""
    for list_id, contact_id, _, joined, left, source in memberships:
        if list_id not in subscription_lists:
            continue
        consent_source = CONSENT_SOURCES.get(source, ConsentEvent.Source.SUBSCRIPTION_CENTER)
        # An import declares its grounds: consent the contact gave elsewhere.
        basis = ConsentEvent.Basis.CONSENT if consent_source == ConsentEvent.Source.IMPORT else ""
        yield contact_id, list_id, ConsentEvent.Action.SUBSCRIBED, joined, consent_source, basis
        if left:
            yield (
                contact_id,
                list_id,
                ConsentEvent.Action.UNSUBSCRIBED,
                left,
                ConsentEvent.Source.SUBSCRIPTION_CENTER,
                "",
            )


def _insert_contacts(table: Table, people: list[Person]) -> dict[str, int]:
    """Insert a chunk of contacts and return their ids by email."""
    table.insert(person.row for person in people)
    emails = [person.email for person in people]
    return dict(Contact.objects.filter(email__in=emails).values_list("email", "pk"))


def demo_superuser_ensure() -> DemoLogin | None:
    """Create a superuser ``admin`` with a fresh random password, unless one exists."""
    users = get_user_model()._default_manager
    if users.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    admin, _ = users.get_or_create(username="admin", defaults={"email": "admin@example.com"})
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.set_password(password)
    admin.save()
    return DemoLogin(username=admin.get_username(), password=password)


def demo_prepare(
    *, contacts: int = 5000, seed: int = 0, progress: bool = False
) -> DemoLogin | None:
    """Everything the demo needs before its servers start: schema, data, a login."""
    call_command("migrate", interactive=False, verbosity=0)
    if not Contact.objects.exists():
        demo_data_seed(contacts=contacts, seed=seed, progress=progress)
    return demo_superuser_ensure()
