"""Users holding given roles, and API clients that authenticate as them with a token."""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def make_user(db):
    """A user holding the given permissions (``"app_label.codename"``)."""

    def make(*perms: str, username: str, is_staff: bool = True, password: str = "") -> User:
        user = User.objects.create_user(username, password=password or None, is_staff=is_staff)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    return make


@pytest.fixture
def client_for():
    """An APIClient that authenticates as ``user`` with a token; anonymous for None."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            key = Token.objects.get_or_create(user=user)[0].key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make
