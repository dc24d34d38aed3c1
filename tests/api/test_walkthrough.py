"""The README's integration walk-through, run over real HTTP in the same order.

The steps are written once, here; a test checks that the README's curl commands
make the same requests, so that the documented walk-through cannot drift from
one that works.
"""

import io
import json
import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from .conftest import Http

pytestmark = pytest.mark.django_db(transaction=True)

# The ids the README's answers show; the live run uses the ones it gets.
README_IDS = {"ada": 42, "bob": 43, "segment": 7}

ADA = {"email": "ada@example.com", "first_name": "Ada", "city": "Chicago"}
BOB = {"email": "bob@example.com", "first_name": "Bob", "city": "Chicago"}
SEGMENT = {
    "name": "Spring sale clickers in Chicago",
    "kind": "dynamic",
    "definition": {
        "version": 1,
        "blocks": [
            {"kind": "profile", "where": {"field": "city", "op": "eq", "value": "Chicago"}},
            {
                "join": "and_also",
                "kind": "behavior",
                "interaction": "email_clicked",
                "where": {"field": "source", "op": "eq", "value": "spring-sale"},
            },
        ],
    },
}
PERMISSIONS = [
    "contacts.view_contact",
    "contacts.add_contact",
    "interactions.add_interaction",
    "segments.view_segment",
    "segments.add_segment",
    "segments.go_live",
]


def email(contact: int, type_: str, at: str, external_id: str) -> dict:
    return {
        "contact": contact,
        "type": type_,
        "occurred_at": at,
        "source": "spring-sale",
        "channel": "email",
        "external_id": external_id,
    }


def steps(ids: dict[str, int]) -> list[tuple[str, str, object]]:
    """(method, path under /api/v1/, JSON body) of each call, in order."""
    ada, bob, segment = ids.get("ada", 0), ids.get("bob", 0), ids.get("segment", 0)
    return [
        ("POST", "/contacts/", ADA),
        (
            "POST",
            "/interactions/",
            [
                email(ada, "email_opened", "2026-05-01T09:29:00Z", "esp-1"),
                email(ada, "email_clicked", "2026-05-01T09:30:00Z", "esp-2"),
            ],
        ),
        ("POST", "/segments/", SEGMENT),
        ("POST", f"/segments/{segment}/go-live/", None),
        ("GET", f"/segments/{segment}/members/", None),
        ("GET", f"/segments/{segment}/changes/", None),
        # From now on the segment follows the data.
        ("POST", "/contacts/", BOB),
        ("POST", "/interactions/", email(bob, "email_clicked", "2026-05-02T14:00:00Z", "esp-3")),
        ("GET", f"/segments/{segment}/changes/", None),
    ]


def readme_walkthrough() -> str:
    """The shell block under the README's walk-through heading."""
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    found = re.search(r"^### Walk-through\n.*?^```sh\n(.*?)^```", readme, re.M | re.S)
    assert found, "the README has a walk-through"
    return found.group(1)


def curl_requests(script: str) -> list[tuple[str, str, object]]:
    """(method, path under $API, JSON body) of each curl command in ``script``."""
    requests, command = [], ""
    for line in script.replace("\\\n", " ").splitlines(keepends=True):
        command += line
        try:
            words = shlex.split(command, comments=True)
        except ValueError:  # a quoted body goes on over the next line
            continue
        command = ""
        if not words or words[0] != "curl":
            continue
        options = dict(zip(words[1::2], words[2::2], strict=False))
        body = json.loads(options["-d"]) if "-d" in options else None
        method = options.get("-X", "POST" if body is not None else "GET")
        url = next(word for word in words if word.startswith("$API/"))
        requests.append((method, url.removeprefix("$API"), body))
    return requests


def test_the_readme_makes_the_same_calls():
    script = readme_walkthrough()
    assert "drf_create_token integration-bot" in script
    assert curl_requests(script) == steps(README_IDS)


def test_the_walkthrough_over_http(live_server, make_user):
    make_user(*PERMISSIONS, username="integration-bot")
    output = io.StringIO()
    call_command("drf_create_token", "integration-bot", stdout=output)
    token = re.search(r"Generated token (\w+) for user integration-bot", output.getvalue())[1]
    api = Http(f"{live_server.url}/api/v1", token)
    ids: dict[str, int] = {}

    def call(index: int):
        method, path, body = steps(ids)[index]
        response = api.request(method, path, body)
        assert response.status in (200, 201), (path, response.text)
        return response.json()

    ids["ada"] = call(0)["id"]
    assert call(1) == {"stored": 2, "duplicates": 0}
    assert call(1) == {"stored": 0, "duplicates": 2}, "a re-sent batch stores nothing twice"

    segment = call(2)
    assert segment["status"] == "draft"
    ids["segment"] = segment["id"]

    live = call(3)
    assert live["status"] == "live" and live["member_count"] == 1
    assert live["evaluation"]["state"] == "idle" and live["evaluation"]["last_evaluated_at"]

    members = call(4)
    assert members["next"] is None
    assert [(m["contact"], m["email"]) for m in members["results"]] == [
        (ids["ada"], "ada@example.com")
    ]
    # Going live is one snapshot: "the members were those of members/".
    [snapshot] = call(5)["results"]
    assert (snapshot["change"], snapshot["size"]) == ("snapshot", 1) and "contact" not in snapshot

    # Bob is in Chicago but has not clicked: not a member until he does.
    ids["bob"] = call(6)["id"]
    assert call(5)["results"] == [snapshot]
    assert call(7) == {"stored": 1, "duplicates": 0}
    assert [(c.get("contact"), c["change"]) for c in call(8)["results"]] == [
        (None, "snapshot"),
        (ids["bob"], "added"),
    ]
