"""A lean HTTP/1.1 client for the load and latency benchmarks: keep-alive connections on one
asyncio loop, requests written as bytes, responses read by Content-Length or chunks.

The load generator runs on the same two cores as the server it measures, so whatever CPU it
spends per call is taken from Daphne, the workers and the database, and whatever time it
spends per call is added to every latency. httpx spent 1.6-2.2 ms of CPU per call on one
connection and 3.5-3.8 ms per call from 16 threads; this client spends 0.3-0.4 ms, and the sync
trigger's p50 measured ≈ 1 ms lower with it, the two alternated on one server
(docs/performance.md, "Fifth round"). What it does not do, it refuses: it speaks plain
HTTP/1.1 to one host and raises on anything it cannot read rather than guess.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def post_json(self, path: str, payload: object) -> Response:
        body = json.dumps(payload).encode()
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return await self.read_response()

    async def read_response(self) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = dict(_header(line) for line in header_lines)
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._read_chunks()
        else:
            raise ValueError(f"a response without a length: {head!r}")
        if headers.get(b"connection", b"").lower() == b"close":
            raise ConnectionError("the server closed a keep-alive connection")
        return Response(status, body)

    async def _read_chunks(self) -> bytes:
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append((await self.reader.readexactly(size + 2))[:-2])  # less its CRLF
        await self.reader.readuntil(b"\r\n")  # the empty trailer
        return b"".join(parts)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


@dataclass(frozen=True)
class Call:
    milliseconds: float
    status: int
    run_id: str


def fire(host: str, port: int, path: str, count: int, concurrency: int,
         payload: Callable[[int], object]) -> tuple[list[Call], float]:
    """POST `count` calls from `concurrency` keep-alive connections; each call's latency,
    status and run id (from a 202's body), and the seconds the whole batch took."""
    return asyncio.run(_fire(host, port, path, count, concurrency, payload))


async def _fire(host: str, port: int, path: str, count: int, concurrency: int,
                payload: Callable[[int], object]) -> tuple[list[Call], float]:
    connections = [await Connection.open(host, port) for _ in range(concurrency)]
    calls: list[Call | None] = [None] * count
    next_call = iter(range(count))

    async def client(connection: Connection) -> None:
        for n in next_call:
            began = time.perf_counter()
            response = await connection.post_json(path, payload(n))
            elapsed = (time.perf_counter() - began) * 1000
            run_id = response.json().get("run_id", "") if response.status == 202 else ""
            calls[n] = Call(elapsed, response.status, run_id)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(client(connection) for connection in connections))
    finally:
        for connection in connections:
            await connection.close()
    return [call for call in calls if call is not None], time.perf_counter() - began
