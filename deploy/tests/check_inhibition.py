#!/usr/bin/env python3
"""Runs a real Alertmanager with deploy/alertmanager/alertmanager.yml and checks the inhibition rules.

    python deploy/tests/check_inhibition.py [ALERTMANAGER_BINARY]

amtool check-config only proves the file parses; this proves the rules do what the comments say:
TargetDown mutes its job's symptom alerts, RedisDown mutes redis-counter's 5xx alert and the
prober's check of redis-counter, and nothing else is muted. Standard library only. The binary is
Debian's `prometheus-alertmanager` (or `alertmanager`); it listens on a free loopback port with
clustering off and its storage in a temporary directory, and is stopped at the end.
"""

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy/alertmanager/alertmanager.yml"

# (labels, expected to be inhibited?)
CASES = [
    ({"alertname": "TargetDown", "job": "robot-control", "instance": "robot-control:6543", "severity": "critical"}, False),
    ({"alertname": "HighLatencyP95", "job": "robot-control", "severity": "warning"}, True),
    ({"alertname": "RobotDriverErrors", "job": "robot-control", "robot": "linus", "severity": "warning"}, True),
    ({"alertname": "HighLatencyP95", "job": "web-flask-equivalent", "severity": "warning"}, False),  # other job
    ({"alertname": "RedisDown", "job": "redis-exporter", "instance": "redis-exporter:9121", "severity": "critical"}, False),
    ({"alertname": "HighHttp5xxRatio", "job": "redis-counter", "severity": "critical"}, True),
    ({"alertname": "HighHttp5xxRatio", "job": "web-flask-equivalent", "severity": "critical"}, False),
    ({"alertname": "ProbedUrlDown", "job": "url-prober", "url": "http://redis-counter:5001/", "severity": "warning"}, True),
    ({"alertname": "ProbedUrlDown", "job": "url-prober", "url": "http://web-flask-equivalent:5000/", "severity": "warning"}, False),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as response:
        return json.loads(response.read() or b"null")


def main() -> int:
    binary = (sys.argv[1] if len(sys.argv) > 1 else None) or shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        print("alertmanager binary not found; install with: apt-get install -y prometheus-alertmanager", file=sys.stderr)
        return 1
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v2"
    with tempfile.TemporaryDirectory() as storage:
        process = subprocess.Popen(
            [binary, f"--config.file={CONFIG}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            for _ in range(100):
                try:
                    request(f"{base}/status")
                    break
                except OSError:
                    if process.poll() is not None:
                        print(process.stderr.read().decode(), file=sys.stderr)
                        return 1
                    time.sleep(0.1)
            now = datetime.now(timezone.utc)
            request(f"{base}/alerts", [
                {"labels": labels, "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat()}
                for labels, _ in CASES
            ])
            problems = []
            # Inhibition is evaluated when the API is queried; give the dispatcher a moment to ingest.
            for _ in range(50):
                got = {json.dumps(a["labels"], sort_keys=True): bool(a["status"]["inhibitedBy"])
                       for a in request(f"{base}/alerts")}
                if len(got) == len(CASES):
                    break
                time.sleep(0.1)
            for labels, expected in CASES:
                actual = got.get(json.dumps(labels, sort_keys=True))
                if actual is not expected:
                    problems.append(f"{labels['alertname']} {labels.get('job')} {labels.get('url', '')}: "
                                    f"inhibited={actual}, expected {expected}")
            for problem in problems:
                print(f"  FAIL {problem}", file=sys.stderr)
            print(f"  inhibition: {len(CASES)} alerts, {len(problems)} problems")
            return 1 if problems else 0
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
