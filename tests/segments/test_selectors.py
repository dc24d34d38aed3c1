"""Suggestions drawn from the data: number properties per interaction type."""

import pytest

from segments import selectors

from .test_admin import designer_config

pytestmark = pytest.mark.django_db


def test_number_properties_are_suggested_per_type(make_contact, make_interaction):
    ada = make_contact()
    make_interaction(ada, "purchase", properties={"amount": 12.5, "sku": "A-1", "paid": True})
    make_interaction(ada, "purchase", properties={"quantity": 3, "amount": "12"})
    make_interaction(ada, "form_submitted", properties={"rating": 4, "comment": None})
    make_interaction(ada, "page_visited", properties={"path": "/", "nested": {"n": 1}})
    make_interaction(ada, "email_opened")

    # Booleans, text, null and objects are no numbers; types without numbers are left out.
    assert selectors.numeric_properties_by_type() == {
        "form_submitted": ["rating"],
        "purchase": ["amount", "quantity"],
    }


def test_only_the_newest_interactions_are_read(make_contact, make_interaction):
    ada = make_contact()
    make_interaction(ada, "purchase", properties={"old_total": 1})
    make_interaction(ada, "purchase", properties={"amount": 2})
    make_interaction(ada, "purchase", properties={"amount": 3})

    assert selectors.numeric_properties_by_type(sample=2) == {"purchase": ["amount"]}


def test_keys_the_grammar_cannot_name_are_not_suggested(make_contact, make_interaction):
    make_interaction(make_contact(), "purchase", properties={"total-eur": 5, "9lives": 1, "ok": 2})
    assert selectors.numeric_properties_by_type() == {"purchase": ["ok"]}


def test_the_designer_gets_the_suggestions_and_their_custom_types(
    admin_client, make_contact, make_interaction
):
    make_interaction(make_contact(), "purchase", properties={"amount": 9})
    make_interaction(make_contact(), "form_submitted", properties={"rating": 5})
    response = admin_client.get("/admin/segments/segment/add/")
    config = designer_config(response, "id_definition")
    assert config["numericProperties"] == {"form_submitted": ["rating"], "purchase": ["amount"]}
    # A built-in type is offered already; the custom one is added to the type picker.
    assert config["customTypes"] == [{"slug": "purchase", "label": "purchase"}]
    scripts = [f"segments/designer{part}.js" for part in ("-core", "-conditions", "-blocks", "")]
    html = response.content.decode()
    assert [html.index(script) for script in scripts] == sorted(html.index(s) for s in scripts)
