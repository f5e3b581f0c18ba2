"""The embedded Redis started by `make run` when no Redis is available."""

from __future__ import annotations

import redis

from runner import embedded_redis


def test_embedded_redis_answers_on_its_socket_and_stops(tmp_path):
    url = f"unix://{tmp_path}/redis.sock?db=0"
    process = embedded_redis.start(url, tmp_path / "data")
    try:
        client = redis.Redis.from_url(url)
        assert client.ping()
        client.set("owlgrid", "up")
        assert client.get("owlgrid") == b"up"
    finally:
        embedded_redis.stop(process)
    assert process.poll() is not None
