"""django-q2 entry points (thin: the services do the work)."""

from . import services


def deliver_endpoint(endpoint_id: int) -> int:
    return services.endpoint_deliver(endpoint_id=endpoint_id)


def deliver_due() -> int:
    return services.webhooks_deliver_due()
