#!/usr/bin/env python3
"""Runs a real Alertmanager with deploy/alertmanager/alertmanager.yml and checks the inhibition rules.

    python deploy/tests/check_inhibition.py [ALERTMANAGER_BINARY]

amtool check-config only proves the file parses; this proves the rules do what the comments say:
TargetDown mutes its job's symptom and SLO burn alerts, RedisDown mutes redis-counter's 5xx and
availability burn alerts and the prober's check of redis-counter, an SLO page mutes its own ticket
and the matching threshold alert, and nothing else is muted; and that pages and tickets reach
their own receivers. Standard library only. The binary is the pinned Alertmanager
(deploy/tools/stack.tsv, built by scripts/stack-programs.sh; deploy/check.sh passes its path); it listens on a free loopback port with
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

# (labels, expected to be inhibited?, receiver the route picks)
CASES = [
    ({"alertname": "TargetDown", "job": "robot-control", "instance": "robot-control:6543", "severity": "critical"}, False, "webhook"),
    ({"alertname": "HighLatencyP95", "job": "robot-control", "severity": "warning"}, True, "webhook"),
    ({"alertname": "RobotDriverErrors", "job": "robot-control", "robot": "linus", "severity": "warning"}, True, "webhook"),
    ({"alertname": "HighLatencyP95", "job": "web-flask-equivalent", "severity": "warning"}, False, "webhook"),  # other job
    ({"alertname": "RedisDown", "job": "redis-exporter", "instance": "redis-exporter:9121", "severity": "critical"}, False, "webhook"),
    ({"alertname": "HighHttp5xxRatio", "job": "redis-counter", "severity": "critical"}, True, "webhook"),
    ({"alertname": "HighHttp5xxRatio", "job": "web-flask-equivalent", "severity": "critical"}, False, "webhook"),
    ({"alertname": "ProbedUrlDown", "job": "url-prober", "url": "http://redis-counter:5001/", "severity": "warning"}, True, "webhook"),
    ({"alertname": "ProbedUrlDown", "job": "url-prober", "url": "http://web-flask-equivalent:5000/", "severity": "warning"}, False, "webhook"),
    # SLO burn alerts (deploy/slo): pages and tickets reach different receivers. robot-control is down:
    # its burn alerts are muted. redis-counter's Redis is down: its availability burn is muted, its
    # latency page is not (Redis down makes it fast, not slow, so a latency burn is another problem).
    ({"alertname": "AvailabilityErrorBudgetBurn", "job": "robot-control", "slo": "availability", "severity": "page",
      "long_window": "1h", "short_window": "5m"}, True, "page"),
    ({"alertname": "LatencyErrorBudgetBurn", "job": "robot-control", "slo": "latency", "severity": "ticket",
      "long_window": "3d", "short_window": "6h"}, True, "ticket"),
    ({"alertname": "AvailabilityErrorBudgetBurn", "job": "redis-counter", "slo": "availability", "severity": "page",
      "long_window": "6h", "short_window": "30m"}, True, "page"),
    ({"alertname": "LatencyErrorBudgetBurn", "job": "redis-counter", "slo": "latency", "severity": "page",
      "long_window": "1h", "short_window": "5m"}, False, "page"),
    # url-prober: an availability page mutes its own ticket and the 5xx threshold alert, not the latency
    # ticket (another SLO) nor the latency threshold alert.
    ({"alertname": "AvailabilityErrorBudgetBurn", "job": "url-prober", "slo": "availability", "severity": "page",
      "long_window": "1h", "short_window": "5m"}, False, "page"),
    ({"alertname": "AvailabilityErrorBudgetBurn", "job": "url-prober", "slo": "availability", "severity": "ticket",
      "long_window": "1d", "short_window": "2h"}, True, "ticket"),
    ({"alertname": "LatencyErrorBudgetBurn", "job": "url-prober", "slo": "latency", "severity": "ticket",
      "long_window": "1d", "short_window": "2h"}, False, "ticket"),
    ({"alertname": "HighHttp5xxRatio", "job": "url-prober", "severity": "critical"}, True, "webhook"),
    ({"alertname": "HighLatencyP95", "job": "url-prober", "severity": "warning"}, False, "webhook"),
    # web-flask-equivalent: a ticket with no page of its SLO is delivered.
    ({"alertname": "AvailabilityErrorBudgetBurn", "job": "web-flask-equivalent", "slo": "availability",
      "severity": "ticket", "long_window": "3d", "short_window": "6h"}, False, "ticket"),
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


def judge(got: dict) -> list:
    """What differs from CASES in Alertmanager's view of the alerts."""
    problems = []
    for labels, expected, receiver in CASES:
        alert = got.get(json.dumps(labels, sort_keys=True))
        where = f"{labels['alertname']} {labels.get('job')} {labels.get('severity')} {labels.get('url', '')}"
        if alert is None:
            problems.append(f"{where}: not accepted by Alertmanager")
            continue
        inhibited = bool(alert["status"]["inhibitedBy"])
        if inhibited is not expected:
            problems.append(f"{where}: inhibited={inhibited}, expected {expected}")
        receivers = [r["name"] for r in alert.get("receivers", [])]
        if receivers != [receiver]:
            problems.append(f"{where}: routed to {receivers}, expected [{receiver!r}]")
    return problems


def main() -> int:
    binary = (sys.argv[1] if len(sys.argv) > 1 else None) or shutil.which("alertmanager")
    if not binary or not shutil.which(binary):
        print("alertmanager binary not found; build it with: just setup (bash scripts/stack-programs.sh build alertmanager)",
              file=sys.stderr)
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
                for labels, _, _ in CASES
            ])
            # Alertmanager's inhibitor reads the alerts from its own subscription, a moment after the
            # API has accepted them: judge the state once it is settled (a wrong rule stays wrong).
            def current_problems() -> list:
                return judge({json.dumps(a["labels"], sort_keys=True): a for a in request(f"{base}/alerts")})

            deadline = time.monotonic() + 10
            while True:
                problems = current_problems()
                if not problems or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            if not problems:
                # And still right a second later: an alert muted late would be caught here.
                time.sleep(1)
                problems = current_problems()
            for problem in problems:
                print(f"  FAIL {problem}", file=sys.stderr)
            print(f"  inhibition: {len(CASES)} alerts, {len(problems)} problems")
            return 1 if problems else 0
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
