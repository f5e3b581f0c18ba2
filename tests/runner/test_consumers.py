"""Live logs over websockets: backlog then live, resume, refusals, a 10,000-line burst."""

from __future__ import annotations

import asyncio
import json
import sys
from unittest.mock import ANY

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from owlgrid_site.asgi import application
from runner import services
from runner.broadcast import log_lines_message, run_group
from runner.models import LogLine, Run
from tests.runner.builders import publish_workflow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run(ops_group, redis_conn):
    workflow, version = publish_workflow("watched", [
        {"name": "say", "type": "log", "inputs": {"message": "hi"}}])
    workflow.perimeters.add(ops_group)
    run = Run.objects.create(workflow=workflow, version=version, trigger_type="manual")
    LogLine.objects.bulk_create(LogLine(run=run, seq=i, message=f"line {i}") for i in (1, 2, 3))
    return run


def cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(path, cookie=None, origin=b"http://127.0.0.1"):
    headers = [(b"host", b"127.0.0.1"), (b"origin", origin)]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_lines(ws, count, timeout=5):
    seqs = []
    while len(seqs) < count:
        message = await ws.receive_json_from(timeout=timeout)
        if message["type"] == "lines":
            seqs.extend(line["seq"] for line in message["lines"])
    return seqs


async def watching_past_the_backlog(run, cookie):
    """A client connected to the run's log that has received its three stored lines."""
    ws = communicator(f"/ws/runs/{run.id}/", cookie)
    assert (await ws.connect())[0]
    assert await receive_lines(ws, 3) == [1, 2, 3]
    return ws


def line(seq: int) -> dict:
    return {"seq": seq, "step": "", "level": "info", "message": f"line {seq}"}


async def publish(run, message: dict) -> None:
    """What the runner's broadcast sends to the run's group."""
    await get_channel_layer().group_send(run_group(run.id), message)


async def wait_for(predicate) -> None:
    """Let the consumers run until `predicate()` is true (bound by the caller's timeout)."""
    while not predicate():
        await asyncio.sleep(0.01)


async def closed_code(ws) -> int:
    """Skip the frames still on their way; the close code."""
    while (output := await ws.receive_output(timeout=5))["type"] != "websocket.close":
        pass
    return output["code"]


def test_backlog_then_live_lines(run, admin_user):
    cookie = cookie_for(admin_user)

    async def scenario():
        ws = await watching_past_the_backlog(run, cookie)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: LogLine.objects.create(run=run, seq=4, message="line 4"))
        await publish(run, log_lines_message([line(4)]))
        assert await receive_lines(ws, 1) == [4]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_reconnect_resumes_after_the_last_number(run, admin_user):
    cookie = cookie_for(admin_user)

    async def scenario():
        ws = communicator(f"/ws/runs/{run.id}/?after=2", cookie)
        assert (await ws.connect())[0]
        assert await ws.receive_json_from(timeout=5) == {"type": "lines", "lines": [
            {"seq": 3, "step": "", "level": "info", "message": "line 3", "time": ANY}]}
        assert await ws.receive_json_from(timeout=5) == {"type": "status", "status": "queued"}
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_gap_in_live_messages_is_filled_from_the_database(run, admin_user):
    cookie = cookie_for(admin_user)

    async def scenario():
        ws = await watching_past_the_backlog(run, cookie)
        await asyncio.get_running_loop().run_in_executor(None, lambda: LogLine.objects.bulk_create(
            LogLine(run=run, seq=i, message=f"line {i}") for i in (4, 5, 6)))
        # Lines 4 and 5 were "dropped" by the channel layer; only 6 arrives live.
        await publish(run, log_lines_message([line(6)]))
        assert await receive_lines(ws, 3) == [4, 5, 6]
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_live_frame_is_forwarded_as_the_runner_encoded_it(run, admin_user):
    cookie = cookie_for(admin_user)
    message = log_lines_message([{"seq": 4, "step": "say", "level": "info",
                                  "message": "line 4 \u00e9 \"quoted\"", "committed_at": 1.5}])

    async def scenario():
        ws = await watching_past_the_backlog(run, cookie)
        await publish(run, message)
        while (frame := await ws.receive_from(timeout=5)) and '"lines"' not in frame:
            pass  # the run's status
        assert frame == message["frame"]
        assert json.loads(frame)["lines"][0]["message"] == 'line 4 \u00e9 "quoted"'
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_live_message_overlapping_what_was_sent_adds_only_the_new_lines(run, admin_user):
    cookie = cookie_for(admin_user)

    async def scenario():
        ws = await watching_past_the_backlog(run, cookie)
        lines = [line(seq) for seq in (2, 3, 4, 5)]
        await publish(run, log_lines_message(lines))
        await publish(run, log_lines_message(lines[:2]))
        assert await receive_lines(ws, 2) == [4, 5]
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    async_to_sync(scenario)()


def test_users_without_the_right_and_anonymous_are_refused(run, outsider):
    cookies = [cookie_for(outsider), None]

    async def scenario():
        for cookie in cookies:
            ws = communicator(f"/ws/runs/{run.id}/", cookie)
            connected, code = await ws.connect()
            assert not connected and code == 4403

    async_to_sync(scenario)()


def test_cross_origin_handshake_is_refused(run, admin_user):
    cookie = cookie_for(admin_user)

    async def scenario():
        ws = communicator(f"/ws/runs/{run.id}/", cookie, origin=b"https://evil.example")
        connected, _ = await ws.connect()
        assert not connected

    async_to_sync(scenario)()


def test_runs_stream_only_shows_visible_runs(run, member, outsider):
    member_cookie, outsider_cookie = cookie_for(member), cookie_for(outsider)

    async def scenario():
        ws = communicator("/ws/runs/", member_cookie)
        assert (await ws.connect())[0]
        await get_channel_layer().group_send("runs", {"type": "run.status", "run": str(run.id),
                                                      "status": "running"})
        assert await ws.receive_json_from(timeout=5) == {"type": "status", "run": str(run.id),
                                                         "status": "running"}
        await ws.disconnect()
        ws = communicator("/ws/runs/", outsider_cookie)
        assert (await ws.connect())[0]
        await get_channel_layer().group_send("runs", {"type": "run.status", "run": str(run.id),
                                                      "status": "running"})
        assert await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_10000_line_burst_arrives_complete_in_order(ops_group, admin_user, workers):
    workflow, _ = publish_workflow("chatty", [
        {"name": "burst", "type": "log", "inputs": {"message": "tick", "repeat": 10000}}])
    workflow.perimeters.add(ops_group)
    run = services.run_start(workflow=workflow, trigger_type="manual")
    cookie = cookie_for(admin_user)
    seqs, statuses = async_to_sync(watch_until_finished)(run, cookie, lambda: workers.start(1))
    assert seqs[:10000] == list(range(1, 10001))
    assert seqs == list(range(1, len(seqs) + 1))  # in order, none twice, none missing
    assert statuses[-1] == "completed"


def test_the_stream_closes_on_logout_and_when_the_right_is_lost(run, admin_user, member,
                                                                ops_group, monkeypatch):
    from django.contrib.sessions.models import Session

    from runner import consumers

    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.2)
    admin_cookie, member_cookie = cookie_for(admin_user), cookie_for(member)

    async def closes(cookie, revoke):
        ws = communicator(f"/ws/runs/{run.id}/", cookie)
        assert (await ws.connect())[0]
        await receive_lines(ws, 3)
        await asyncio.get_running_loop().run_in_executor(None, revoke)
        assert await closed_code(ws) == 4403

    def log_out_admin():
        Session.objects.filter(session_key=admin_cookie.decode().split("=")[1]).delete()

    def drop_member_right():
        ops_group.members.remove(member)

    async_to_sync(closes)(admin_cookie, log_out_admin)
    async_to_sync(closes)(member_cookie, drop_member_right)


def test_a_lost_last_message_and_a_lost_status_arrive_at_the_next_reconciliation(
        run, admin_user, monkeypatch):
    from django.utils import timezone

    from runner import consumers

    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.2)
    cookie = cookie_for(admin_user)

    def written_but_never_broadcast():
        LogLine.objects.bulk_create(LogLine(run=run, seq=i, message=f"line {i}") for i in (4, 5))
        Run.objects.filter(id=run.id).update(status="completed", finished_at=timezone.now())

    async def scenario():
        ws = communicator(f"/ws/runs/{run.id}/", cookie)
        assert (await ws.connect())[0]
        assert await receive_lines(ws, 3) == [1, 2, 3]
        assert await ws.receive_json_from(timeout=5) == {"type": "status", "status": "queued"}
        await asyncio.get_running_loop().run_in_executor(None, written_but_never_broadcast)
        assert await receive_lines(ws, 2) == [4, 5]
        assert await ws.receive_json_from(timeout=5) == {"type": "status", "status": "completed"}
        await ws.disconnect()

    async_to_sync(scenario)()


def test_the_stream_closes_when_the_user_is_deactivated(run, member, monkeypatch):
    from runner import consumers

    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.2)
    cookie = cookie_for(member)

    async def scenario():
        ws = communicator(f"/ws/runs/{run.id}/", cookie)
        assert (await ws.connect())[0]
        await receive_lines(ws, 3)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: type(member).objects.filter(id=member.id).update(is_active=False))
        assert await closed_code(ws) == 4403

    async_to_sync(scenario)()


def test_runs_stream_stops_when_the_perimeter_is_lost_and_closes_on_logout(
        run, member, ops_group, monkeypatch):
    from django.contrib.sessions.models import Session

    from runner import consumers

    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.2)
    rechecks = []
    recheck = consumers.RunsConsumer.on_recheck

    async def counted_recheck(self, user):
        await recheck(self, user)
        rechecks.append(user)

    monkeypatch.setattr(consumers.RunsConsumer, "on_recheck", counted_recheck)
    cookie = cookie_for(member)
    message = {"type": "run.status", "run": str(run.id), "status": "running"}

    async def scenario():
        loop = asyncio.get_running_loop()
        ws = communicator("/ws/runs/", cookie)
        assert (await ws.connect())[0]
        await loop.run_in_executor(None, lambda: ops_group.members.remove(member))
        # Two rechecks done since: the second began after the removal (the first may not have).
        done = len(rechecks)
        await asyncio.wait_for(wait_for(lambda: len(rechecks) >= done + 2), timeout=5)
        await get_channel_layer().group_send("runs", message)
        assert await ws.receive_nothing(timeout=0.5)
        await loop.run_in_executor(None, lambda: Session.objects.all().delete())
        assert await closed_code(ws) == 4403

    async_to_sync(scenario)()


TINY_LAYER_SETTINGS = """
from owlgrid_site.settings import *  # noqa: F403

# One message at most waits in a channel: a burst loses most of its live messages.
CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = 1  # noqa: F405
"""


def test_a_burst_arrives_complete_through_a_layer_that_really_drops_messages(
        ops_group, admin_user, workers, monkeypatch, tmp_path):
    """The worker's channel layer holds one message per channel, and the viewer is slow, so
    Redis discards most live messages (and maybe the final status): the consumer must notice
    each gap by number, fill it from the database, and still deliver the status."""
    from runner import consumers

    (tmp_path / "tiny_layer_settings.py").write_text(TINY_LAYER_SETTINGS)
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.5)
    gaps: list[int] = []
    carried: list[int] = []
    deliver = consumers.RunLogConsumer.log_lines

    async def lines_written(count: int) -> None:
        written = sync_to_async(lambda: LogLine.objects.filter(run=run).count())
        while await written() < count:
            await asyncio.sleep(0.05)

    async def slow_viewer(self, event):
        carried.append(event["last"] - event["first"] + 1)
        if event["first"] > self.last_seq + 1:
            gaps.append(event["first"])
        if len(carried) == 1:
            # The viewer holds its first live message until the worker has written half the
            # burst: the channel keeps one of the messages sent meanwhile and Redis drops the
            # rest, whatever the machine's speed, so a later live message shows a gap.
            await asyncio.wait_for(lines_written(15000), timeout=120)
        await deliver(self, event)

    async def recheck_after_the_burst(self, user):
        # The periodic reconciliation would fill the gap before a live message reveals it; it
        # starts once the burst is written (and delivers the final status if Redis dropped it).
        await lines_written(30000)
        await recheck(self, user)

    recheck = consumers.RunLogConsumer.on_recheck
    monkeypatch.setattr(consumers.RunLogConsumer, "on_recheck", recheck_after_the_burst)
    monkeypatch.setattr(consumers.RunLogConsumer, "log_lines", slow_viewer)
    # The burst starts once the viewer has handled the run's "running" status (whose backlog
    # read would otherwise chase the whole burst in the database, the live messages dropped
    # meanwhile).
    workflow, _ = publish_workflow("lossy", [
        {"name": "settle", "type": "wait", "inputs": {"seconds": 0.5}},
        {"name": "burst", "type": "log", "inputs": {"message": "tick", "repeat": 30000}}])
    workflow.perimeters.add(ops_group)
    run = services.run_start(workflow=workflow, trigger_type="manual")
    cookie = cookie_for(admin_user)
    seqs, statuses = async_to_sync(watch_until_finished)(run, cookie, lambda: workers.start(
        1, DJANGO_SETTINGS_MODULE="tiny_layer_settings",
        PYTHONPATH=f"{tmp_path}:{':'.join(sys.path)}"))
    assert seqs == list(range(1, LogLine.objects.filter(run=run).count() + 1))
    assert len(seqs) >= 10000 and statuses[-1] == "completed"
    print(f"live messages {len(carried)} carrying {sum(carried)} lines, {len(gaps)} gaps seen")
    assert sum(carried) < len(seqs), "the layer dropped nothing: no backfill was exercised"
    assert gaps, "no live message revealed a gap"


async def watch_until_finished(run, cookie, start_workers) -> tuple[list[int], list[str]]:
    """Connect first, then start the worker: the lines must come live, not as a backlog."""
    ws = communicator(f"/ws/runs/{run.id}/", cookie)
    assert (await ws.connect())[0]
    await asyncio.get_running_loop().run_in_executor(None, start_workers)
    seqs: list[int] = []
    statuses: list[str] = []
    while not statuses or statuses[-1] not in {"completed", "failed", "cancelled"}:
        try:
            message = await ws.receive_json_from(timeout=30)
        except TimeoutError:
            raise AssertionError(f"stalled after {len(seqs)} lines, {statuses}") from None
        if message["type"] == "lines":
            seqs.extend(line["seq"] for line in message["lines"])
        else:
            statuses.append(message["status"])
    await ws.disconnect()
    return seqs, statuses
