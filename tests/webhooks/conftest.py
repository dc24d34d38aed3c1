"""A real HTTP receiver on 127.0.0.1 that checks each delivery's signature with the
``standardwebhooks`` package, as a receiving system would."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from segments import services as segment_services
from segments.models import Segment
from webhooks import services
from webhooks.models import Endpoint, Event


class Receiver:
    """Answers each POST with the next of ``statuses`` (then 204) and keeps what came."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.statuses: list[int] = []
        self.verified: list[dict] = []  # payloads whose signature held
        self.refused: list[str] = []  # why the others were refused
        self.headers: list[dict] = []
        self.stall = threading.Event()  # set: the next request hangs until ``release``
        self.release = threading.Event()
        self.arrived = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.stall.is_set():
                    receiver.stall.clear()
                    with receiver.arrived:
                        receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                        receiver.arrived.notify_all()
                    receiver.release.wait(60)
                    return  # the sender is gone: no answer
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                with receiver.arrived:
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if status < 300:
                        try:
                            payload = Webhook(receiver.secret).verify(body, dict(self.headers))
                            receiver.verified.append(payload)
                        except WebhookVerificationError as exc:
                            receiver.refused.append(str(exc))
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"server says no" if status >= 300 else b"")

            def log_message(self, *args) -> None:
                pass

        return Handler

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.verified) >= count, timeout)
        return self.verified

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def allow_loopback(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint_for(db, receiver):
    """An endpoint posting to ``receiver``, which is given its secret."""

    def make(events=tuple(Event.values), segments=()) -> Endpoint:
        endpoint = services.endpoint_create(
            url=receiver.url, events=list(events), segments=segments
        )
        receiver.secret = endpoint.secret
        return endpoint

    return make


def live_segment(name: str, where: dict) -> Segment:
    definition = {"version": 1, "blocks": [{"kind": "profile", "where": where}]}
    segment = segment_services.segment_create(name=name, definition=definition, kind="dynamic")
    return segment_services.segment_go_live(segment=segment)
