"""The admin for version-2 definitions: groups and aggregates in words, and the "Why?" page."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from marketing_lists.models import MarketingList
from segments import services
from segments.admin.display import describe_definition

from .conftest import leaf

pytestmark = pytest.mark.django_db

CHICAGO = {"kind": "profile", "where": leaf("city", "eq", "Chicago")}
SPENT_500 = {
    "kind": "behavior",
    "interaction": "purchase",
    "within": {"amount": 90, "unit": "days"},
    "aggregate": {"fn": "sum", "field": "properties.amount", "op": "gte", "value": 500},
}
CLICKED = {"kind": "behavior", "interaction": "email_clicked"}
# Chicago and also (clicked, or spent at least 500 in 90 days).
GROUPED = {
    "version": 2,
    "blocks": [
        CHICAGO,
        {"join": "and_also", "kind": "group", "blocks": [CLICKED, {"join": "or", **SPENT_500}]},
    ],
}


def text(html: str) -> str:
    """The words a reader sees, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- the definition in words ---------------------------------------------------------------------


def test_an_aggregate_reads_as_a_sentence():
    definition = {"version": 2, "blocks": [SPENT_500]}
    assert text(describe_definition(definition)) == (
        "contacts whose total of amount over purchase interactions in the last 90 days "
        "is at least 500"
    )


@pytest.mark.parametrize(
    ("fn", "op", "value", "words"),
    [
        ("avg", "lt", 3, "average of rating over Form submitted interactions is less than 3"),
        (
            "min",
            "between",
            [1, 5],
            "smallest of rating over Form submitted interactions is between 1 and 5",
        ),
        ("max", "eq", 2.5, "largest of rating over Form submitted interactions is exactly 2.5"),
    ],
)
def test_each_aggregate_function_and_comparison_has_words(fn, op, value, words):
    block = {
        "kind": "behavior",
        "interaction": "form_submitted",
        "aggregate": {"fn": fn, "field": "properties.rating", "op": op, "value": value},
    }
    assert words in text(describe_definition({"version": 2, "blocks": [block]}))


def test_a_group_is_described_nested_with_its_own_joins():
    html = describe_definition(GROUPED)
    assert text(html) == (
        "contacts where City is Chicago and also contacts in this group: "
        "contacts with at least 1 Email clicked interaction(s) "
        "or contacts whose total of amount over purchase interactions in the last 90 days "
        "is at least 500"
    )
    # The group's blocks are a list inside the group's item.
    assert re.search(r"<li><strong>and also</strong> contacts in this group: <ol", html)


def test_segments_and_lists_inside_groups_are_named(live_segment, make_contact):
    make_contact(city="Chicago")
    chicago = live_segment({"version": 1, "blocks": [CHICAGO]}, name="Chicagoans")
    newsletter = MarketingList.objects.create(name="Newsletter")
    inner = {
        "kind": "group",
        "blocks": [
            {"kind": "segment", "segment": chicago.pk},
            {"join": "or", "kind": "list", "list": newsletter.pk},
        ],
    }
    definition = {
        "version": 2,
        "blocks": [
            {"kind": "segment", "segment": chicago.pk},
            {"join": "but_not", "kind": "group", "blocks": [inner]},
        ],
    }
    words = text(describe_definition(definition))
    assert words.count("members of segment Chicagoans") == 2
    assert "subscribed members of list Newsletter" in words
    assert "#" not in words


# --- the "Why?" page -----------------------------------------------------------------------------


def why_url(segment, contact=None) -> str:
    url = reverse("admin:segments_segment_why", args=[segment.pk])
    return f"{url}?contact={contact.pk}" if contact is not None else url


@pytest.fixture
def grouped(live_segment, make_contact, make_interaction):
    """The grouped segment live, a big spender in Chicago (a member) and a Bostonian."""
    spender = make_contact(email="spender@example.com", city="Chicago")
    for amount in (300, 250.5, "1000"):  # the text is no number: 550.5 in all
        make_interaction(spender, "purchase", timezone.now(), properties={"amount": amount})
    boston = make_contact(email="boston@example.com", city="Boston")
    make_interaction(boston, "email_clicked", timezone.now())
    return live_segment(GROUPED, name="Chicago buyers"), spender, boston


def answers(html: str) -> list[str]:
    """Each block's answer in page order: "matched" or "not matched"."""
    return re.findall(r'class="why-matched-text">.*?(not matched|matched)', html, re.S)


def test_why_shows_each_block_nested_with_its_answer_and_the_running_result(admin_client, grouped):
    segment, spender, _ = grouped
    response = admin_client.get(why_url(segment, spender))
    html = response.content.decode()
    assert response.status_code == 200
    # Chicago; the group; in it, clicked (no) or spent (yes).
    assert answers(html) == ["matched", "matched", "not matched", "matched"]
    assert "0 matching interactions" in html and "total: 550.5" in html
    words = text(html)
    assert "Stored membership member" in words and "not a member" not in words
    assert re.findall(r"so far: (in|out)", html) == ["in", "in", "out", "in"]
    # The inner blocks come after (inside) the group.
    assert html.index("so far: out") > html.index("the group of blocks below")


def test_why_explains_a_non_member(admin_client, grouped):
    segment, _, boston = grouped
    html = admin_client.get(why_url(segment, boston)).content.decode()
    assert answers(html) == ["not matched", "matched", "matched", "not matched"]
    assert "total: 0" in html
    # The group matched, yet after "and also" the result stays out.
    assert re.findall(r"so far: (in|out)", html) == ["out", "out", "in", "in"]
    assert 'id="why-result"' in html and text(html).count("not a member") == 2


def test_why_tells_when_stored_and_now_differ(admin_client, grouped):
    segment, spender, _ = grouped
    spender.city = "Boston"
    type(spender).objects.filter(pk=spender.pk).update(city="Boston")  # no re-evaluation
    words = text(admin_client.get(why_url(segment, spender)).content.decode())
    assert "Stored membership member" in words and "not a member" in words
    assert "The two differ" in words


def test_why_without_a_contact_offers_a_search_by_email(admin_client, grouped):
    segment, spender, _ = grouped
    html = admin_client.get(why_url(segment)).content.decode()
    assert "Pick a contact" in html and "why-blocks" not in html
    html = admin_client.get(why_url(segment) + "?q=SPENDER").content.decode()
    assert f'href="?contact={spender.pk}"' in html and "boston@" not in html
    html = admin_client.get(why_url(segment) + "?q=nobody").content.decode()
    assert "No contact's email contains “nobody”" in html


@pytest.mark.parametrize("contact", ["999999", "abc", "99999999999999999999999"])
def test_why_an_unknown_contact_is_a_clear_error(admin_client, grouped, contact):
    segment, _, _ = grouped
    response = admin_client.get(why_url(segment) + f"?contact={contact}")
    assert response.status_code == 404
    assert "There is no contact with id" in response.content.decode()


def test_why_a_static_segment_has_no_definition_to_explain(admin_client, make_contact):
    static = services.segment_create(name="Hand picked", kind="static", definition=None)
    response = admin_client.get(why_url(static, make_contact()))
    assert response.status_code == 200
    assert "no definition to explain" in response.content.decode()


@pytest.mark.parametrize(
    ("codenames", "status"),
    [(("view_segment",), 403), (("view_contact",), 403), (("view_segment", "view_contact"), 200)],
)
def test_why_needs_view_segment_and_view_contact(
    client, django_user_model, grouped, codenames, status
):
    segment, spender, _ = grouped
    user = django_user_model.objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    assert client.get(why_url(segment, spender)).status_code == status


def test_members_page_and_contact_page_link_to_why(admin_client, grouped):
    segment, spender, _ = grouped
    link = f"{reverse('admin:segments_segment_why', args=[segment.pk])}?contact={spender.pk}"
    members = reverse("admin:segments_segment_members", args=[segment.pk])
    assert f'href="{link}"' in admin_client.get(members).content.decode()
    contact = reverse("admin:contacts_contact_change", args=[spender.pk])
    html = admin_client.get(contact).content.decode()
    assert f'href="{link}"' in html
    assert admin_client.get(link).status_code == 200
