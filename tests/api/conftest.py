"""Fixtures for the API tests: a staff user and a client over real HTTP.

The main flows go over real HTTP to ``live_server`` (``Http``); the rest use DRF's
in-process ``APIClient`` with the same token authentication (``client_for``, with
``make_user``, in the project's test conftest).
"""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from ..conftest import token_for


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.text)


class Http:
    """A tiny JSON client over real HTTP (urllib), authenticated with a token."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        accept: str = "application/json",
    ):
        headers = {"Accept": accept, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return HttpResponse(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, dict(error.headers), error.read())

    def get(self, path: str, accept: str = "application/json"):
        return self.request("GET", path, accept=accept)

    def post(self, path: str, body: Any = None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any):
        return self.request("PATCH", path, body)

    def put(self, path: str, body: Any):
        return self.request("PUT", path, body)

    def delete(self, path: str):
        return self.request("DELETE", path)


ALL_APPS = ("contacts", "interactions", "marketing_lists", "segments", "webhooks")


@pytest.fixture
def staff_user(make_user):
    """A user with every permission of the project's apps (but not a superuser)."""
    perms = Permission.objects.filter(content_type__app_label__in=ALL_APPS)
    user = make_user(username="staff")
    user.user_permissions.set(perms)
    return user


@pytest.fixture
def api(client_for, staff_user) -> APIClient:
    return client_for(staff_user)


@pytest.fixture
def http(live_server, staff_user) -> Http:
    return Http(live_server.url, token_for(staff_user))
