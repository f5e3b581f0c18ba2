"""Live broadcasts: batched, in order, and sent only to groups someone watches (real Redis);
the channel layer's backend is imported at start-up without cryptography unless a layer
encrypts its messages (OwlGrid's secrets can still import cryptography afterwards)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

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


def test_only_groups_with_members_are_watched(layer):
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("run-a", channel)
    async_to_sync(layer.group_add)("runs", channel)
    async_to_sync(layer.group_discard)("runs", channel)
    watched = async_to_sync(broadcast.watched_groups)(layer, {"run-a", "run-b", "runs"})
    assert watched == {"run-a"}


def test_another_layer_gets_every_message():
    """Only channels_redis's layer is asked for members; any other layer gets every message."""
    assert async_to_sync(broadcast.watched_groups)(object(), {"run-a"}) is None


def test_messages_queued_together_wake_the_sender_once(layer, monkeypatch):
    """Each wake-up hands the interpreter to the sender's thread; a batch needs one."""
    sender = broadcast._Sender()
    loop, _ = sender._started()
    hold = threading.Event()
    loop.call_soon_threadsafe(hold.wait, 5)  # the sender's loop is busy meanwhile
    wakes = []
    real = loop.call_soon_threadsafe
    monkeypatch.setattr(loop, "call_soon_threadsafe",
                        lambda callback, *args: (wakes.append(callback), real(callback, *args)))
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("run-batch", channel)
    sent = [sender.submit("run-batch", {"type": "run.status", "n": n}) for n in range(3)]
    hold.set()
    assert all(done.wait(5) for done in sent)
    assert len(wakes) == 1
    assert [async_to_sync(layer.receive)(channel)["n"] for _ in range(3)] == [0, 1, 2]


def test_a_viewer_who_joins_a_group_nobody_watched_gets_the_next_message(layer):
    """Only groups seen with members are remembered; an unwatched group is asked again."""
    assert broadcast._send("run-late", {"type": "run.status", "n": 1}).wait(5)
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("run-late", channel)
    assert broadcast._send("run-late", {"type": "run.status", "n": 2}).wait(5)
    assert async_to_sync(layer.receive)(channel)["n"] == 2


BASE = Path(__file__).resolve().parents[2]
PROBE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "owlgrid_site.settings"
import django
from django.conf import settings
django.setup()
if sys.argv[1:] == ["encrypt"]:
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["symmetric_encryption_keys"] = ["k"]
from runner.broadcast import import_layer_backends
import_layer_backends()
import channels_redis.serializers as serializers
print(serializers.Fernet is not None, "cryptography.hazmat.bindings._rust" in sys.modules)
from cryptography.fernet import Fernet
key = Fernet.generate_key()
print(Fernet(key).decrypt(Fernet(key).encrypt(b"x")) == b"x")
"""


def run_probe(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=BASE, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_layer_backend_is_imported_without_cryptography():
    assert run_probe() == ["False", "False", "True"]


def test_a_layer_that_encrypts_gets_cryptography():
    assert run_probe("encrypt") == ["True", "True", "True"]


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


def test_rq_reads_replies_with_hiredis_and_the_channel_layer_with_redis_py_s_parser(redis_conn):
    """hiredis makes each of RQ's round trips cheaper; in the layer it repeated messages (see
    envconf.channel_layer_host and the receive tests above, each receive on a loop of its own)."""
    from channels_redis.utils import create_pool
    from redis._parsers import _AsyncRESP2Parser, _HiredisParser

    from runner.queueing import redis_connection

    pool = redis_connection().connection_pool
    connection = pool.get_connection()
    try:
        assert isinstance(connection._parser, _HiredisParser)
    finally:
        pool.release(connection)
    host, = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert create_pool(host).connection_kwargs["parser_class"] is _AsyncRESP2Parser
