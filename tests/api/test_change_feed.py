"""The change feed: going live is one snapshot, every later change is a contact's, and a
consumer that follows the documented rule keeps a copy equal to the members."""

import pytest

from contacts.models import Contact
from segments.models import Evaluation, MembershipChange

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"


@pytest.fixture
def people(make_contact):
    return {
        name: make_contact(email=f"{name}@example.com", city=city)
        for name, city in [
            ("ada", "Chicago"),
            ("bob", "Chicago"),
            ("cy", "Boston"),
            ("dan", "Oslo"),
        ]
    }


@pytest.fixture
def moves(django_capture_on_commit_callbacks):
    """Move a contact to a city; the change-driven evaluation runs before this returns."""

    def move(contact: Contact, city: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            contact.city = city
            contact.save()

    return move


def live_segment(api) -> str:
    in_chicago = {"field": "city", "op": "eq", "value": "Chicago"}
    definition = {"version": 1, "blocks": [{"kind": "profile", "where": in_chicago}]}
    body = {"name": "Chicago", "kind": "dynamic", "definition": definition}
    created = api.post(URL, body, format="json")
    path = f"{URL}{created.data['id']}/"
    assert api.post(f"{path}go-live/").data["member_count"] == 2
    return path


def read_all(api, url: str, **query) -> list[dict]:
    """Every result of a cursor-paginated list, one page of two at a time."""
    results, page = [], api.get(url, {"page_size": 2, **query})
    while True:
        assert page.status_code == 200, page.data
        results += page.data["results"]
        if not page.data["next"]:
            return results
        page = api.get(page.data["next"])


class Follower:
    """An integration following the feed by the rule the API documents: on a snapshot,
    take members/ (read any time after it); then apply each later entry in order. It
    reads again from the time of the last entry it saw (``since``): entries applied
    twice in order leave the same members."""

    def __init__(self, api, path: str):
        self.api, self.path = api, path
        self.members: set[int] = set()
        self.since: str | None = None

    def catch_up(self) -> None:
        query = {"since": self.since} if self.since else {}
        for entry in read_all(self.api, f"{self.path}changes/", **query):
            self.apply(entry)
            self.since = entry["at"]

    def apply(self, entry: dict) -> None:
        if entry["change"] == "snapshot":
            self.members = members(self.api, self.path)
        elif entry["change"] == "added":
            self.members.add(entry["contact"])
        else:
            self.members.discard(entry["contact"])


def members(api, path: str) -> set[int]:
    return {m["contact"] for m in read_all(api, f"{path}members/")}


def test_going_live_is_one_snapshot_then_one_entry_per_change(api, people, moves):
    path = live_segment(api)
    moves(people["cy"], "Chicago")
    moves(people["ada"], "Paris")

    feed = read_all(api, f"{path}changes/")
    went_live = Evaluation.objects.get(trigger="go_live")
    assert feed[0] == {
        "change": "snapshot",
        "evaluation": went_live.pk,
        "size": 2,
        "at": feed[0]["at"],
    }
    assert [(e["email"], e["change"]) for e in feed[1:]] == [
        ("cy@example.com", "added"),
        ("ada@example.com", "removed"),
    ]
    assert set(feed[1]) == {"contact", "email", "change", "at"}
    # The snapshot's time is the going-live evaluation's, and since= keeps it or not by it.
    later = api.get(f"{path}changes/", {"since": feed[1]["at"]}).data["results"]
    assert [e["change"] for e in later] == ["added", "removed"]


def test_a_re_evaluation_with_nothing_changed_writes_no_second_snapshot(api, people):
    path = live_segment(api)
    assert api.post(f"{path}refresh/").status_code in (200, 202)
    assert MembershipChange.objects.filter(change="snapshot").count() == 1


def test_replaying_the_feed_gives_the_members(api, people, moves):
    path = live_segment(api)
    moves(people["cy"], "Chicago")
    moves(people["bob"], "Paris")
    # The follower starts late: its read of members/ already holds the changes after the
    # snapshot, and applying them again changes nothing.
    follower = Follower(api, path)
    follower.catch_up()
    assert follower.members == members(api, path) == {people["ada"].pk, people["cy"].pk}

    moves(people["dan"], "Chicago")
    moves(people["ada"], "Rome")
    moves(people["bob"], "Chicago")
    follower.catch_up()
    assert follower.members == members(api, path)
    assert follower.members == {people["bob"].pk, people["cy"].pk, people["dan"].pk}


def test_going_live_again_with_members_kept_logs_each_change(api, people, moves):
    path = live_segment(api)
    assert api.post(f"{path}stop/").status_code == 200
    moves(people["ada"], "Paris")  # not followed while stopped
    assert api.post(f"{path}go-live/").data["member_count"] == 1
    feed = read_all(api, f"{path}changes/")
    assert [(e.get("contact"), e["change"]) for e in feed] == [
        (None, "snapshot"),
        (people["ada"].pk, "removed"),
    ]
    follower = Follower(api, path)
    follower.catch_up()
    assert follower.members == members(api, path) == {people["bob"].pk}
