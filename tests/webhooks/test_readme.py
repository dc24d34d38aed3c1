"""The README's receiver verifies what this project sends, and refuses a forgery."""

import datetime
import re

from django.conf import settings
from standardwebhooks import Webhook

from webhooks.models import new_secret


def readme_receiver() -> str:
    readme = (settings.BASE_DIR / "README.md").read_text()
    section = readme.split("\n## Webhooks\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_receiver_accepts_a_signed_message_and_refuses_a_forged_one():
    secret, handled = new_secret(), []
    namespace = {
        "WEBHOOK_SECRET": secret,
        "seen_before": lambda webhook_id: False,
        "handle": lambda kind, data: handled.append((kind, data)),
    }
    exec(readme_receiver(), namespace)
    body = '{"type":"contact.erased","timestamp":"2026-01-01T00:00:00Z","data":{"contact_id":5}}'
    now = datetime.datetime.now(datetime.UTC)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_1", now, body),
    }
    assert namespace["receive"](body.encode(), headers) == 204
    assert handled == [("contact.erased", {"contact_id": 5})]
    forged = body.replace("5", "6")
    assert namespace["receive"](forged.encode(), headers) == 400
    assert len(handled) == 1
