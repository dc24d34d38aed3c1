"""Real workers under load and faults: qcluster processes on PostgreSQL and Redis.

The test process queues tasks on a Redis queue of its own, as the web processes do,
and `qcluster` processes on the test database run them. The Redis broker forgets a
task whose worker died; the second test kills one in the middle of a full evaluation
and shows that the transaction rolled back and that the schedule's refresh recovers.
"""

import contextlib
import datetime
import random
import subprocess
import threading
import time
import uuid
from types import SimpleNamespace

import psutil
import pytest
import redis
from django.db import connection
from django.db.models import F, Value
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Failure, Schedule, Task
from django_q.signals import pre_enqueue
from django_q.tasks import async_task

from contacts.models import Contact
from devtools.benchmark import data_generate
from interactions.services import interactions_ingest
from marketing_lists.models import MarketingList
from marketing_lists.services import list_add_members, list_remove_members
from segments import services
from segments.engine import Clock, compile_definition
from segments.models import Evaluation, MembershipChange, Segment

from .changelog import assert_log_adds_up_to
from .clusters import start_qcluster, stop_qclusters
from .locks import held_elsewhere

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'",
        reason="worker tests run on PostgreSQL with the Redis broker",
    ),
]

# A database number of its own; the queue's name is new for every test.
REDIS_URL = "redis://127.0.0.1:6379/11"
BUSY = [Segment.EvaluationState.QUEUED, Segment.EvaluationState.RUNNING]


@pytest.fixture
def broker(monkeypatch):
    """A Redis queue for this test alone, which this process fills as a web process would."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError):
        pytest.skip(f"Redis is not answering at {REDIS_URL}")
    name = f"crm-segments-test-{uuid.uuid4().hex[:12]}"
    for attribute, value in {
        "SYNC": False,
        "ORM": None,
        "REDIS": REDIS_URL,
        "PREFIX": name,
        "CLUSTER_NAME": name,
    }.items():
        monkeypatch.setattr(Conf, attribute, value)
    Schedule.objects.all().delete()  # each test runs the refresh itself, when it means to
    queued: list[str] = []

    def record(sender, task, **kwargs):
        queued.append(task["id"])

    pre_enqueue.connect(record, weak=False, dispatch_uid=name)
    yield SimpleNamespace(name=name, client=client, queue=f"django_q:{name}:q", queued=queued)
    pre_enqueue.disconnect(dispatch_uid=name)
    keys = client.keys(f"django_q:{name}:*")
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def start_cluster(broker, tmp_path):
    """Start `qcluster` processes on the test database and the test's queue."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(*, workers: int = 2) -> subprocess.Popen:
        log = tmp_path / f"qcluster-{len(started)}.log"
        process = start_qcluster(
            log,
            REDIS_URL=REDIS_URL,
            Q_NAME=broker.name,
            Q_WORKERS=str(workers),
            Q_CLUSTER_NAME=None,
        )
        started.append((process, log))
        return process

    yield start
    for _, log in started:
        print(f"--- {log.name}\n{log.read_text()[-3000:]}")  # shown when the test fails
    stop_qclusters(process for process, _ in started)


def wait_until(check, clusters: list[subprocess.Popen], timeout: float, what: str):
    """Poll ``check`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert all(cluster.poll() is None for cluster in clusters), "a qcluster process exited"
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)
    return result


def drained(broker) -> bool:
    """Nothing waits in Redis, no segment is queued or running, and every task this process
    queued is done (tasks the workers queue are full evaluations: their segment is queued)."""
    return (
        broker.client.llen(broker.queue) == 0
        and not Segment.objects.filter(evaluation_state__in=BUSY).exists()
        and Task.objects.filter(id__in=broker.queued).count() == len(broker.queued)
    )


def steadily(check, times: int = 4, pause: float = 0.5):
    """``check`` holding a few times in a row: a task that queues another hands over in between."""

    def held() -> bool:
        for _ in range(times):
            if not check():
                return False
            time.sleep(pause)
        return True

    return held


def members(segment: Segment) -> set[int]:
    return set(segment.memberships.values_list("contact_id", flat=True))


def selected(segment: Segment) -> set[int]:
    """The contacts the definition selects now: what a full evaluation would store."""
    return set(compile_definition(segment.definition, Clock.for_zone(segment.time_zone)))


def assert_consistent(segment: Segment) -> None:
    segment.refresh_from_db()
    stored = members(segment)
    assert stored == selected(segment), f"{segment.name}: members differ from its definition"
    assert segment.member_count == len(stored), segment.name
    assert_log_adds_up_to(segment, stored)


# --- many segments, two clusters, concurrent changes -------------------------------------------

CONTACTS = 3_000
TYPES = ["email_opened", "email_clicked", "email_bounced", "form_submitted", "page_visited"]


def leaf(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op} | ({} if value is None else {"value": value})


def profile(where: dict) -> dict:
    return {"kind": "profile", "where": where}


def behavior(interaction: str, **keys) -> dict:
    return {"kind": "behavior", "interaction": interaction, **keys}


def joined(join: str, block: dict) -> dict:
    return {"join": join, **block}


def definition(*blocks: dict) -> dict:
    return {"version": 1, "blocks": list(blocks)}


def in_list(marketing_list: MarketingList) -> dict:
    return {"kind": "list", "list": marketing_list.pk}


def base_definitions(lists: list[MarketingList], since: str, until: str) -> list[dict]:
    """25 dynamic definitions over profiles, behaviour and lists, without relative dates
    (which could move at midnight between the evaluation and the check)."""
    window = {"between": [since, until]}
    tier = {"field": "attributes.tier", "type": "text", "op": "eq", "value": "gold"}
    return [
        definition(
            profile({"all": [leaf("country", "in", ["US", "CA"]), leaf("lead_score", "gte", 40)]})
        ),
        definition(profile(leaf("city", "eq", "Berlin"))),
        definition(profile(leaf("lead_score", "between", [20, 60]))),
        definition(profile(tier)),
        definition(profile(leaf("account.industry", "in", ["software", "finance"]))),
        definition(profile(leaf("do_not_email", "is_true"))),
        definition(profile({"any": [leaf("language", "eq", "fr"), leaf("country", "eq", "DE")]})),
        definition(profile({"not": leaf("country", "in", ["US"])})),
        definition(profile(leaf("job_title", "is_empty"))),
        definition(
            profile({"all": [leaf("customer_since", "is_not_empty"), leaf("lead_score", "lt", 30)]})
        ),
        definition(behavior("email_clicked")),
        definition(behavior("email_opened", count={"op": "gte", "value": 3})),
        definition(behavior("page_visited", where=leaf("source", "starts_with", "/pages/1"))),
        definition(behavior("form_submitted", **window)),
        definition(behavior("email_clicked", count={"op": "eq", "value": 0})),
        definition(behavior("event_attended")),
        definition(behavior("email_bounced", **window)),
        definition(behavior("email_opened", count={"op": "between", "value": [2, 5]})),
        definition(
            behavior(
                "page_visited", where=leaf("channel", "eq", "web"), count={"op": "gte", "value": 2}
            )
        ),
        definition(behavior("event_registered"), joined("or", behavior("form_submitted"))),
        definition(
            profile(leaf("country", "eq", "US")),
            joined("and_also", behavior("email_opened", **window)),
        ),
        definition(
            profile(leaf("lead_score", "gte", 50)), joined("but_not", behavior("email_bounced"))
        ),
        definition(in_list(lists[0])),
        definition(
            in_list(lists[1]), joined("and_also", profile(leaf("country", "in", ["US", "GB"])))
        ),
        definition(behavior("email_clicked"), joined("but_not", in_list(lists[0]))),
    ]


def member_of(segment: Segment) -> dict:
    return {"kind": "segment", "segment": segment.pk}


def compound_definitions(base: list[Segment], lists: list[MarketingList]) -> list[dict]:
    """Four compound definitions over the live dynamic segments and the lists."""
    return [
        definition(member_of(base[0]), joined("or", member_of(base[1]))),
        definition(member_of(base[10]), joined("and_also", member_of(base[20]))),
        definition(member_of(base[2]), joined("but_not", in_list(lists[1]))),
        definition(in_list(lists[0]), joined("or", member_of(base[11]))),
    ]


def go_live(name: str, definition: dict, kind: str = Segment.Kind.DYNAMIC) -> Segment:
    segment = services.segment_create(name=name, kind=kind, definition=definition)
    return services.segment_go_live(segment=segment)


def in_thread(work, errors: list) -> threading.Thread:
    """Run ``work`` on a connection of its own, as another web process would."""

    def run():
        try:
            work()
        except Exception as exc:  # reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def ingest_batches(seed: int, now: datetime.datetime) -> None:
    rng = random.Random(seed)
    for batch in range(8):
        records = [
            {
                "contact": rng.randint(1, CONTACTS),
                "type": rng.choice(TYPES),
                "occurred_at": now - datetime.timedelta(days=rng.randint(0, 40), hours=1),
                "source": rng.choice(["/pages/1", "/pages/2", "campaign-1"]),
                "channel": rng.choice(["web", "email"]),
                "external_id": f"load-{seed}-{batch}-{index}",
            }
            for index in range(40)
        ]
        interactions_ingest(records=records)
        time.sleep(rng.uniform(0, 0.3))


def edit_contacts(seed: int) -> None:
    rng = random.Random(seed)
    for contact in Contact.objects.filter(pk__in=rng.sample(range(1, CONTACTS + 1), 30)):
        contact.lead_score = rng.randint(0, 100)
        contact.country = rng.choice(["US", "CA", "DE", "GB"])
        contact.do_not_email = rng.random() < 0.2
        contact.save()
        time.sleep(rng.uniform(0, 0.1))


def change_lists(seed: int, lists: list[MarketingList]) -> None:
    rng = random.Random(seed)
    for _ in range(6):
        marketing_list = rng.choice(lists)
        contact_ids = rng.sample(range(1, CONTACTS + 1), 20)
        if rng.random() < 0.5:
            list_add_members(marketing_list=marketing_list, contact_ids=contact_ids, source="test")
        else:
            list_remove_members(
                marketing_list=marketing_list, contact_ids=contact_ids, source="test"
            )
        time.sleep(rng.uniform(0, 0.3))


def test_two_clusters_keep_thirty_live_segments_exact_under_concurrent_changes(
    broker, start_cluster
):
    data_generate(contacts=CONTACTS, interactions=10 * CONTACTS, seed=1, progress=False)
    lists = [MarketingList.objects.create(name=f"List {i}") for i in range(2)]
    for index, marketing_list in enumerate(lists):
        list_add_members(
            marketing_list=marketing_list,
            contact_ids=range(1 + index, CONTACTS + 1, 7),
            source="test",
        )
    clusters = [start_cluster(workers=2), start_cluster(workers=2)]
    now = timezone.now()
    today = now.date()
    since, until = str(today - datetime.timedelta(days=60)), str(today)
    started = time.monotonic()

    errors: list[Exception] = []
    threads = [in_thread(lambda seed=seed: ingest_batches(seed, now), errors) for seed in (1, 2, 3)]
    threads += [in_thread(lambda: edit_contacts(4), errors)]
    threads += [in_thread(lambda: change_lists(5, lists), errors)]
    base = [
        go_live(f"Segment {index}", spec)
        for index, spec in enumerate(base_definitions(lists, since, until))
    ]
    compounds = [
        go_live(f"Compound {index}", spec, Segment.Kind.COMPOUND)
        for index, spec in enumerate(compound_definitions(base, lists))
    ]
    over_compound = definition(member_of(compounds[0]), joined("but_not", member_of(base[21])))
    go_live("Compound of a compound", over_compound, Segment.Kind.COMPOUND)
    for thread in threads:
        thread.join()
    assert errors == []

    wait_until(steadily(lambda: drained(broker)), clusters, timeout=120, what="the queue drains")
    print(f"drained {len(broker.queued)} tasks in {time.monotonic() - started:.1f}s")

    live = Segment.objects.filter(status=Segment.Status.LIVE)
    assert live.count() == 30
    for segment in live:
        assert_consistent(segment)
    assert not live.exclude(evaluation_state=Segment.EvaluationState.IDLE).exists()
    assert list(Failure.objects.values_list("name", "result")) == []
    assert Task.objects.filter(id__in=broker.queued, success=True).count() == len(broker.queued)
    assert not Evaluation.objects.exclude(status=Evaluation.Status.SUCCEEDED).exists()


# --- a worker killed in the middle of a full evaluation ----------------------------------------

BIG = 40_000


def waiting_to_record_its_result() -> tuple[int, int] | None:
    """The database backend (pid, client port) of an evaluation waiting to update its record."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE %s",
            [f'UPDATE "{Evaluation._meta.db_table}"%'],
        )
        return cursor.fetchone()


def idle(segment: Segment) -> bool:
    return Segment.objects.get(pk=segment.pk).evaluation_state == Segment.EvaluationState.IDLE


def backend_gone(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is None


def process_with_connection(cluster: subprocess.Popen, port: int) -> psutil.Process:
    """The process of the cluster whose database connection uses this local port."""
    for process in psutil.Process(cluster.pid).children(recursive=True):
        if any(c.laddr.port == port for c in process.net_connections(kind="tcp")):
            return process
    raise AssertionError(f"no process of the cluster has a connection from port {port}")


def test_a_worker_killed_mid_evaluation_leaves_the_old_members_until_the_refresh_reruns_it(
    broker, start_cluster
):
    data_generate(contacts=BIG, interactions=0, seed=2, progress=False)
    cluster = start_cluster(workers=2)
    segment = go_live("Half", definition(profile(leaf("lead_score", "gte", 50))))
    wait_until(lambda: idle(segment), [cluster], timeout=60, what="the go-live evaluation ends")
    old = members(segment)

    # Every lead score flips: about half of the members leave, and as many join.
    Contact.objects.update(lead_score=Value(100) - F("lead_score"))  # no signal: no change run
    running = segment.evaluations.filter(status=Evaluation.Status.RUNNING)
    with contextlib.ExitStack() as record_held:
        # KEY SHARE lets the evaluation mark itself running, not lock the segment: it
        # waits before writing anything, long enough for its record to be locked too.
        with held_elsewhere(Segment, segment.pk, "KEY SHARE"):
            services.segment_refresh(segment=segment)
            killed = wait_until(running.first, [cluster], timeout=30, what="it starts")
            record_held.enter_context(held_elsewhere(Evaluation, killed.pk))
        # Now it writes every change, then waits to record its result, uncommitted.
        pid, port = wait_until(
            waiting_to_record_its_result, [cluster], timeout=60, what="it has written its changes"
        )
        process_with_connection(cluster, port).kill()  # SIGKILL: no cleanup of any kind
    started = time.monotonic()
    wait_until(lambda: backend_gone(pid), [cluster], timeout=30, what="its backend ends")

    segment.refresh_from_db()
    assert members(segment) == old and segment.member_count == len(old)
    assert not MembershipChange.objects.filter(evaluation_id=killed.pk).exists()
    assert_log_adds_up_to(segment, old)
    assert segment.evaluation_state == "running"  # and no worker will finish it

    # The schedule's refresh (queued now rather than waited for) finds it dead and reruns it.
    async_task("segments.tasks.refresh_due_segments", task_name="refresh due segments")
    wait_until(lambda: idle(segment), [cluster], timeout=60, what="the rerun ends")
    print(f"recovered {time.monotonic() - started:.1f}s after the kill")
    assert_consistent(segment)
    assert members(segment) != old
    killed.refresh_from_db()
    assert killed.status == "failed" and "interrupted" in killed.error
    rerun = segment.evaluations.get(trigger=Evaluation.Trigger.SCHEDULE)
    assert rerun.status == "succeeded" and rerun.size == len(members(segment))
    assert list(Failure.objects.values_list("name", "result")) == []
