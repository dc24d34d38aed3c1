import pytest
from django.db import IntegrityError, transaction

from contacts.models import Contact


@pytest.mark.django_db
def test_email_uniqueness_ignores_case_and_is_enforced_by_the_database(make_contact):
    make_contact(email="Ada@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        # bulk_create skips model validation: only the database can refuse this.
        Contact.objects.bulk_create([Contact(email="ada@example.COM")])
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_distinct_emails_are_accepted(make_contact):
    make_contact(email="ada@example.com")
    make_contact(email="grace@example.com")
    assert Contact.objects.count() == 2


@pytest.mark.django_db
def test_model_validation_explains_a_case_insensitive_duplicate(make_contact):
    make_contact(email="ada@example.com")
    with pytest.raises(Exception, match="already exists"):
        Contact(email="ADA@example.com").full_clean()
