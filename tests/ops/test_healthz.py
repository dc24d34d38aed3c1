import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "broker": True}}


def test_healthz_answers_503_when_the_broker_is_unreachable(client, settings, monkeypatch):
    from django_q import brokers
    from django_q.conf import Conf

    # A Redis broker on a port where nothing listens.
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(brokers, "Conf", Conf)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "broker": False}
