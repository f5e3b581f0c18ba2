"""Live broadcasts: in order, to whoever watches at the time they are sent (real Redis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from runner import broadcast


@pytest.fixture
def layer(redis_conn):
    """A layer of the test's own on the same Redis, configured as OwlGrid's (the sender uses the
    process's layer, on its own event loop); each receive runs on an event loop of its own."""
    return RedisChannelLayer(hosts=settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"])


def watch(layer, group):
    """What a viewer does (runner/consumers.py): join the group, mark it watched."""
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    async_to_sync(broadcast.mark_watched)(group)
    return channel


def test_a_watched_group_gets_every_message_in_order(layer):
    channel = watch(layer, "run-watched")
    sent = [broadcast._send("run-watched", {"type": "run.status", "n": n}) for n in range(5)]
    sent.append(broadcast._send("run-unwatched", {"type": "run.status", "n": 99}))
    assert all(done.wait(5) for done in sent)
    received = [async_to_sync(layer.receive)(channel)["n"] for _ in range(5)]
    assert received == [0, 1, 2, 3, 4]


def test_a_viewer_who_joins_a_group_nobody_watched_gets_the_next_message(layer):
    assert broadcast._send("run-late", {"type": "run.status", "n": 1}).wait(5)
    channel = watch(layer, "run-late")
    assert broadcast._send("run-late", {"type": "run.status", "n": 2}).wait(5)
    assert async_to_sync(layer.receive)(channel)["n"] == 2


def test_nothing_is_sent_to_a_group_no_viewer_marked_watched(layer):
    """Most runs are watched by nobody: their statuses cost no channel-layer send."""
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("run-unmarked", channel)  # joined, never marked
    assert broadcast._send("run-unmarked", {"type": "run.status", "n": 1}).wait(5)
    async_to_sync(broadcast.mark_watched)("run-unmarked")
    assert broadcast._send("run-unmarked", {"type": "run.status", "n": 2}).wait(5)
    assert async_to_sync(layer.receive)(channel)["n"] == 2  # the first was never sent


def test_a_log_batch_travels_as_its_ready_made_frame_with_its_numbers():
    lines = [{"seq": 7, "step": "say", "level": "info", "message": "seven"},
             {"seq": 8, "step": "say", "level": "info", "message": "eight"}]

    message = broadcast.log_lines_message(lines)

    assert (message["type"], message["first"], message["last"]) == ("log.lines", 7, 8)
    assert json.loads(message["frame"]) == {"type": "lines", "lines": lines}


def test_a_log_batch_with_a_value_json_cannot_encode_still_makes_a_frame():
    """The frame is built after the commit, where an exception would escape the engine's
    write: an unexpected value is sent as its text."""
    when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    message = broadcast.log_lines_message([{"seq": 1, "message": when}])

    assert json.loads(message["frame"])["lines"][0]["message"] == str(when)
