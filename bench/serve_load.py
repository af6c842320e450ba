"""Small bounded load run against ``python -m feeds.serve`` on loopback.

Generates a 100-entry Atom feed in a temporary directory, starts the server in a subprocess on
127.0.0.1 with an ephemeral port, then measures requests/s for three cases on keep-alive
connections: 304 (If-None-Match), 200 identity and 200 gzip.  Each case stops after
``--requests`` requests or ``--seconds`` seconds, whichever comes first; the server is stopped
with SIGTERM at the end.

    python bench/serve_load.py [--requests 20000] [--seconds 3] [--clients 4]

The client is Python too and shares the machine's cores with the server, so figures are a lower
bound meant for comparing changes, not an absolute capacity.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def write_feed(path: Path, entries: int = 100) -> None:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n',
        "<id>urn:feeds:bench</id><title>Bench channel</title><updated>2024-01-02T03:04:05Z</updated>\n",
    ]
    for i in range(entries):
        title = escape(f"Story {i}: something happened & people wrote about it")
        summary = escape(f"A summary for story {i}. " * 6)
        parts.append(
            f"<entry><id>urn:feeds:bench:{i}</id><title>{title}</title>"
            f'<link href="https://example.org/story/{i}"/>'
            f"<updated>2024-01-02T03:{i % 60:02d}:05Z</updated><summary>{summary}</summary></entry>\n"
        )
    parts.append("</feed>\n")
    path.write_text("".join(parts), encoding="utf-8")


def start_server(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "feeds.serve", str(directory), "--host", HOST, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # access log lines are still formatted, just discarded
        cwd=REPO_ROOT,
        env=env,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline().decode() if ready else ""
    match = re.fullmatch(r"listening on http://[^:]+:(\d+)/\n", line)
    if match is None:
        proc.kill()
        proc.wait(timeout=10)
        raise SystemExit(f"server did not start: {line!r}")
    return proc, int(match.group(1))


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def run_case(
    port: int, headers: dict[str, str], expect: int, max_requests: int, max_seconds: float, clients: int
) -> Result:
    lock = threading.Lock()
    state = {"done": 0, "errors": 0}
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            while time.monotonic() < deadline:
                with lock:
                    if state["done"] >= max_requests:
                        return
                    state["done"] += 1
                conn.request("GET", "/bench.atom", headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != expect:
                    with lock:
                        state["errors"] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max_seconds + 30)
    elapsed = time.perf_counter() - started
    return Result(state["done"], elapsed, state["errors"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="max requests per case")
    parser.add_argument("--seconds", type=float, default=3.0, help="max seconds per case")
    parser.add_argument("--clients", type=int, default=4, help="client threads (keep-alive connections)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="feeds-serve-bench-") as tmp:
        out = Path(tmp)
        write_feed(out / "bench.atom")
        size = (out / "bench.atom").stat().st_size
        proc, port = start_server(out)
        try:
            probe = http.client.HTTPConnection(HOST, port, timeout=10)
            probe.request("GET", "/bench.atom", headers={"Accept-Encoding": "identity"})
            first = probe.getresponse()
            first.read()
            etag = first.getheader("ETag") or ""
            probe.request("GET", "/bench.atom", headers={"Accept-Encoding": "gzip"})
            zipped = probe.getresponse()
            gz_size = len(zipped.read())
            probe.close()

            print(f"feed: 100 entries, {size} bytes ({gz_size} gzipped); clients={args.clients}")
            cases = [
                ("304 If-None-Match", {"Accept-Encoding": "identity", "If-None-Match": etag}, 304),
                ("200 identity", {"Accept-Encoding": "identity"}, 200),
                ("200 gzip", {"Accept-Encoding": "gzip"}, 200),
            ]
            for name, headers, expect in cases:
                result = run_case(port, headers, expect, args.requests, args.seconds, args.clients)
                print(
                    f"{name:18s} {result.rate:9.0f} req/s  "
                    f"({result.requests} requests in {result.seconds:.2f}s, {result.errors} unexpected)"
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        print(f"server exit code after SIGTERM: {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
