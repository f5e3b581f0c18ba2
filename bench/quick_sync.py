"""Sync trigger and baseline latencies only (a 40-second slice of webhook.py, for iterating)."""

from __future__ import annotations

import json
import time

from common import start_workers, stop
from webhook import free_port, prepare, setup_django, start_web, sync_latencies


def main() -> None:
    setup_django()
    prepare()
    port = free_port()
    web = start_web(port)
    workers = start_workers(2)
    try:
        time.sleep(3)
        print(json.dumps(sync_latencies(port)))
    finally:
        stop(workers)
        stop(web)


if __name__ == "__main__":
    main()
