import itertools

import pytest

from contacts.models import Account, Contact

_sequence = itertools.count(1)


@pytest.fixture
def make_contact(db):
    """Create a contact; every keyword is a model field."""

    def make(**fields) -> Contact:
        fields.setdefault("email", f"contact{next(_sequence)}@example.com")
        return Contact.objects.create(**fields)

    return make


@pytest.fixture
def make_account(db):
    def make(**fields) -> Account:
        fields.setdefault("name", f"Account {next(_sequence)}")
        return Account.objects.create(**fields)

    return make
