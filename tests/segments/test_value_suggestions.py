"""Suggestions for the designer's values: the usual values of low-cardinality fields."""

from interactions.services import interactions_ingest
from segments import selectors


def test_suggests_the_most_frequent_values_of_low_cardinality_fields(make_contact):
    for city, times in (("Chicago", 3), ("Boston", 2), ("Denver", 1)):
        for i in range(times):
            make_contact(email=f"{city}{i}@example.com", city=city, country="US")
    make_contact(email="blank@example.com", city="")
    suggestions = selectors.value_suggestions()
    assert suggestions["city"] == ["Chicago", "Boston", "Denver"]
    assert suggestions["country"] == ["US"]
    assert "language" not in suggestions  # no contact has one: nothing to suggest
    assert "email" not in suggestions  # one value per contact: no field for suggestions


def test_suggests_interaction_sources_and_reads_only_the_newest_records(make_contact):
    contact = make_contact(email="ada@example.com", city="Old town")
    make_contact(email="bob@example.com", city="New town")
    interactions_ingest(
        records=[
            {
                "contact": contact.pk,
                "type": "email_opened",
                "occurred_at": "2026-01-01T00:00:00Z",
                "source": "spring-sale",
            }
        ]
    )
    suggestions = selectors.value_suggestions(sample=1)
    assert suggestions["source"] == ["spring-sale"]
    assert suggestions["city"] == ["New town"]
