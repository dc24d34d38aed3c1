import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_logs_in_and_sees_the_admin_index(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("marketer", "m@example.com", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.locator("#content h1").inner_text() == "Home"
    assert page.locator("a", has_text="Contacts").count() >= 1
