"""The API docs render in a browser that can reach nothing but the site itself."""

import urllib.parse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_render_offline(live_server, page, django_user_model):
    django_user_model.objects.create_user("reader", password="s3cret-pass", is_staff=True)
    site = urllib.parse.urlsplit(live_server.url).netloc
    outside = []

    def only_the_site(route):
        if urllib.parse.urlsplit(route.request.url).netloc == site:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_site)
    page.goto(f"{live_server.url}/api/docs/")
    # The docs are for signed-in users: the admin's login page brings the reader back.
    page.fill("#id_username", "reader")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("text=/api/v1/segments/{id}/go-live/")
    assert page.locator(".opblock").count() > 30  # every operation is listed
    assert outside == []
