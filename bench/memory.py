"""Resident memory of an idle worker process and an idle web (Daphne) process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from common import BASE_DIR, setup_django, start_workers, stop, wait_until

SETTLE_SECONDS = 4


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker_pids(parent: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)],  # noqa: S603, S607
                         capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in out.split()]


def login_page(port: int) -> bool:
    """Whether the web process served its login page (it has started)."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10).read()  # noqa: S310
    except (urllib.error.URLError, ConnectionError):
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure() -> dict[str, float]:
    setup_django()
    launcher = start_workers(1, sweeper=False)
    port = free_port()
    web = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "owlgrid_site.web:application"],
        cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(SETTLE_SECONDS)
        wait_until(lambda: login_page(port), 60, 0.2)  # a busy machine starts Daphne slowly
        time.sleep(1)
        workers = worker_pids(launcher.pid)
        return {
            "worker_idle_rss_mb": round(max(rss_mb(pid) for pid in workers), 1),
            "web_idle_rss_mb": round(rss_mb(web.pid), 1),
        }
    finally:
        stop(launcher)
        stop(web)


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=2)
    print()
