"""Sync trigger and baseline latencies only (a 40-second slice of webhook.py, for iterating)."""

from __future__ import annotations

import json
import statistics
import time

import httpx
from common import start_workers, stop
from webhook import free_port, latencies, percentile, prepare, setup_django, start_web


def main() -> None:
    setup_django()
    prepare()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start_web(port)
    workers = start_workers(2)
    try:
        time.sleep(3)
        sync, baseline = [], []
        with httpx.Client(timeout=30) as client:
            for _ in range(3):
                sync.append(latencies(client, f"{base}/hooks/bench/bench-sync", 200))
                baseline.append(latencies(client, f"{base}/bench/baseline", 200))
        print(json.dumps({
            "webhook_sync_p50_ms": statistics.median(percentile(b, 50) for b in sync),
            "webhook_sync_p95_ms": statistics.median(percentile(b, 95) for b in sync),
            "baseline_django_view_p50_ms": statistics.median(percentile(b, 50) for b in baseline),
        }))
    finally:
        stop(workers)
        stop(web)


if __name__ == "__main__":
    main()
