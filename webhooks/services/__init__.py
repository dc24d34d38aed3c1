"""Webhook services: the only path that changes endpoints and the outbox.

- ``endpoints``: create and update endpoints; which URLs may receive webhooks
- ``outbox``: messages written in the transaction of the change they announce
- ``delivery``: sending an endpoint's messages in order, retries, disabling, resend
"""

from .delivery import endpoint_deliver, message_resend, webhooks_deliver_due
from .endpoints import WebhookError, endpoint_create, endpoint_update, url_refusal
from .outbox import outbox_write

__all__ = [
    "WebhookError",
    "endpoint_create",
    "endpoint_deliver",
    "endpoint_update",
    "message_resend",
    "outbox_write",
    "url_refusal",
    "webhooks_deliver_due",
]
