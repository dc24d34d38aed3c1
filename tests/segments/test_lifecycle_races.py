"""Going live, stopping and deleting at once (PostgreSQL: real row locks).

A live compound segment must never be left built on a draft: when a segment it uses
is stopped while it goes live, one of the two is refused.
"""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from segments import services
from segments.models import Segment

from ..conftest import token_for
from .locks import open_elsewhere, started_elsewhere, waiting_for_a_lock

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

URL = "/api/v1/segments/"
CHICAGO = {
    "version": 1,
    "blocks": [{"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}}],
}


def uses(segment: Segment) -> dict:
    return {"version": 1, "blocks": [{"kind": "segment", "segment": segment.pk}]}


@pytest.fixture
def launcher(make_user):
    """Someone who may take segments live, stop and delete them."""
    return make_user("segments.view_segment", "segments.go_live", "segments.delete_segment")


def at_once(user, *requests: tuple[str, str]) -> list[int]:
    """Send each request (method, path) as ``user``, each from its own thread, at once."""
    start = threading.Barrier(len(requests))
    codes: list[int] = [0] * len(requests)

    def send(index: int) -> None:
        method, path = requests[index]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        try:
            start.wait()
            codes[index] = getattr(client, method)(path).status_code
        except Exception:  # the test client raises what the server did not handle
            codes[index] = 500
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def used_and_user(index: int) -> tuple[Segment, Segment]:
    """A live segment X and a draft compound segment C that uses it."""
    used = services.segment_create(name=f"X{index}", definition=CHICAGO)
    services.segment_go_live(segment=used)
    user = services.segment_create(name=f"C{index}", kind="compound", definition=uses(used))
    return used, user


def statuses(*segments: Segment) -> list[str]:
    return [Segment.objects.get(pk=segment.pk).status for segment in segments]


def test_stop_racing_go_live_of_a_segment_using_it_never_both_succeed(make_contact, launcher):
    make_contact(city="Chicago")
    both = []
    for index in range(30):
        used, user = used_and_user(index)
        stop, go_live = at_once(
            launcher, ("post", f"{URL}{used.pk}/stop/"), ("post", f"{URL}{user.pk}/go-live/")
        )
        assert {stop, go_live} <= {200, 400, 409}, (stop, go_live)
        if stop == go_live == 200:
            both.append(index)
        used_status, user_status = statuses(used, user)
        # Whoever won, the state is one a user could reach one request at a time.
        assert user_status == "draft" or used_status == "live", (index, stop, go_live)
        assert (stop == 200) == (used_status == "draft")
        assert (go_live == 200) == (user_status == "live")
    assert both == []


def test_delete_racing_go_live_of_a_segment_using_it_never_both_succeed(make_contact, launcher):
    make_contact(city="Chicago")
    for index in range(30):
        used, user = used_and_user(index)
        delete, go_live = at_once(
            launcher, ("delete", f"{URL}{used.pk}/"), ("post", f"{URL}{user.pk}/go-live/")
        )
        assert {delete, go_live} <= {204, 200, 400, 409}, (delete, go_live)
        assert not (delete == 204 and go_live == 200), index
        if go_live == 200:
            assert statuses(used) == ["live"]


def test_a_go_live_waiting_for_a_stop_is_refused_once_the_stop_commits(make_contact):
    """Deterministic: the stop holds its lock, uncommitted, while the go-live starts."""
    make_contact(city="Chicago")
    used, user = used_and_user(0)
    with open_elsewhere(lambda: services.segment_stop(segment=used)):
        launching, outcome = started_elsewhere(lambda: services.segment_go_live(segment=user))
        assert waiting_for_a_lock(launching)
    launching.join()
    assert isinstance(outcome[0], services.DefinitionError), outcome
    assert "is not live" in str(outcome[0])
    assert statuses(used, user) == ["draft", "draft"]
