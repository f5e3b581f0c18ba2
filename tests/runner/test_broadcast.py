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


def test_a_watched_group_gets_every_message_in_order(layer):
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("run-watched", channel)
    sent = [broadcast._send("run-watched", {"type": "run.status", "n": n}) for n in range(5)]
    sent.append(broadcast._send("run-unwatched", {"type": "run.status", "n": 99}))
    assert all(done.wait(5) for done in sent)
    received = [async_to_sync(layer.receive)(channel)["n"] for _ in range(5)]
    assert received == [0, 1, 2, 3, 4]


def test_a_viewer_who_joins_a_group_nobody_watched_gets_the_next_message(layer):
    assert broadcast._send("run-late", {"type": "run.status", "n": 1}).wait(5)
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("run-late", channel)
    assert broadcast._send("run-late", {"type": "run.status", "n": 2}).wait(5)
    assert async_to_sync(layer.receive)(channel)["n"] == 2


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
