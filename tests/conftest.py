import itertools

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts.models import Account, Contact

_sequence = itertools.count(1)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache; every test starts and ends with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db):
    """Create a user holding the given permissions (``"app_label.codename"``)."""

    def make(*perms: str, username: str | None = None, is_staff: bool = False) -> User:
        username = username or f"user{User.objects.count() + 1}"
        user = User.objects.create_user(username, is_staff=is_staff)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    return make


def token_for(user: User) -> str:
    return Token.objects.get_or_create(user=user)[0].key


@pytest.fixture
def client_for():
    """An APIClient that authenticates as ``user`` with a token; anonymous for None."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    return make


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


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright.

    Missing Chromium skips browser tests on a laptop but fails them in CI.
    """
    import os
    import shutil

    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required for browser tests in CI")
        pytest.skip(f"{CHROMIUM} is not installed")
    # Playwright's sync API refuses to run inside an event loop; Django's async-safety
    # check must allow the live server's ORM calls made from this thread.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """Where browser tests save their screenshots: a temporary folder, so a test run never
    rewrites tracked files. ``SCREENSHOTS_DIR=docs/screenshots`` regenerates the README's."""
    import os
    from pathlib import Path

    folder = os.environ.get("SCREENSHOTS_DIR")
    if not folder:
        return tmp_path_factory.mktemp("screenshots")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path
