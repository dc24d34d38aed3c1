"""Property-based fuzzing of every operation in the schema.

Bad input is never a 500, and every answer matches what the schema says of it.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as examples
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.config import SchemathesisConfig

from marketing_lists.models import MarketingList

from ..conftest import token_for

HOST = "localhost"  # the Host header schemathesis's WSGI client sends

# Random examples only: the deterministic coverage phase alone takes minutes.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})

# Read once at import, before any test user exists: the schema is opened for that moment.
with override_settings(ALLOWED_HOSTS=[HOST], API_DOCS_PUBLIC=True):
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", get_wsgi_application(), config=CONFIG
    )


@pytest.fixture
def wsgi_in_test_transaction():
    """Keep the test's connection open across WSGI calls, as Django's test client does."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token(db, settings, wsgi_in_test_transaction, staff_user, make_contact) -> str:
    settings.ALLOWED_HOSTS = [HOST]
    # Something for the generated ids to find: most cases still hit a 404 or a 400.
    make_contact(city="Chicago")
    MarketingList.objects.create(name="Newsletter", kind="subscription")
    return token_for(staff_user)


@pytest.mark.api_fuzz
@schema.parametrize()
@examples(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_input_causes_a_server_error(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
