#!/usr/bin/env python3
"""Starts deploy/alert-webhook/server.py on a free loopback port and attacks it with raw sockets.

    python deploy/tests/check_alert_webhook.py [SERVER_PY]

Bad Content-Length headers (negative, not a number, conflicting, missing, huge), bodies that are
not an Alertmanager notification (not JSON, not an object, nested too deep, wrong types), a
client that stops mid-request, one that drips bytes, and enough drippers to fill every
connection slot. Each must get a clean 4xx (or 503 when full) or be cut off in bounded time,
other clients must be served meanwhile, and afterwards the same process must still print a valid
alert and answer 200, with no traceback on stderr. Standard library only; the server is stopped
at the end. The timeouts are shortened through the server's environment so this runs in seconds.
"""

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy/alert-webhook/server.py"
READ_TIMEOUT = 1.0
DEADLINE = 3.0
SLOTS = 32  # MAX_CONNECTIONS in server.py

ALERT = {
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "WebhookCheck", "severity": "page", "job": "check"},
            "annotations": {"summary": "a valid alert after the attacks"},
        }
    ],
}

failures = []


def check(name, condition, detail=""):
    print(f"   {'ok' if condition else 'FAILED'}: {name}{'' if condition else f' ({detail})'}")
    if not condition:
        failures.append(name)


class Webhook:
    """The server as a child process; stderr collected by a thread, stdout read at the end."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER)],
            env={
                "LISTEN_ADDR": "127.0.0.1:0",
                "ALERT_WEBHOOK_READ_TIMEOUT": str(READ_TIMEOUT),
                "ALERT_WEBHOOK_DEADLINE": str(DEADLINE),
                "PYTHONUNBUFFERED": "1",
                "PATH": "/usr/bin:/bin",
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = []
        started = threading.Event()

        def collect():
            for line in self.process.stderr:
                self.stderr.append(line)
                started.set()
            started.set()

        threading.Thread(target=collect, daemon=True).start()
        if not started.wait(10) or not self.stderr:
            self.stop()
            sys.exit(f"{SERVER} did not start: {''.join(self.stderr)}")
        self.port = int(self.stderr[0].strip().rsplit(":", 1)[1])

    def stop(self):
        self.process.terminate()
        try:
            stdout, _ = self.process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, _ = self.process.communicate()
        return stdout


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def status_of(response):
    """The status code of a raw HTTP response, or None when the server closed without one."""
    parts = response.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def exchange(port, request, timeout=5.0):
    """Sends `request` and reads until the server closes; (status, seconds taken)."""
    started = time.monotonic()
    with connect(port) as sock:
        sock.settimeout(timeout)
        sock.sendall(request)
        response = b""
        try:
            while chunk := sock.recv(65536):
                response += chunk
        except ConnectionResetError:
            pass
    return status_of(response), time.monotonic() - started


def post(body, headers=None):
    headers = {"Content-Length": str(len(body))} if headers is None else headers
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST / HTTP/1.1\r\nHost: webhook\r\n{head}\r\n".encode() + body


def still_open(sock):
    """True when the server has neither closed nor answered `sock` yet."""
    sock.settimeout(0)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def closed_within(sock, seconds):
    """True when the server closes `sock` within `seconds` (reading whatever it sends)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def drip(port, stop, connected=None):
    """A client sending one header byte every READ_TIMEOUT/3 seconds until cut off, `stop`, or
    3 s past the deadline; returns how long it was connected and whether the server cut it off.
    Releases `connected` once connected."""
    started = time.monotonic()
    give_up = started + DEADLINE + 3
    with connect(port) as sock:
        if connected is not None:
            connected.release()
        sock.settimeout(READ_TIMEOUT / 3)
        try:
            sock.sendall(b"POST / HTTP/1.1\r\nX-Slow: ")
            while not stop.is_set() and time.monotonic() < give_up:
                sock.sendall(b"x")
                try:
                    if sock.recv(1024) == b"":
                        return time.monotonic() - started, True
                except TimeoutError:
                    pass
        except OSError:
            return time.monotonic() - started, True
    return time.monotonic() - started, False


def main():
    webhook = Webhook()
    port = webhook.port
    valid = json.dumps(ALERT).encode()
    try:
        print("== bad Content-Length headers: a clean 4xx each")
        for name, request, expected in [
            ("negative", post(b"{}", {"Content-Length": "-5"}), 400),
            ("not a number", post(b"{}", {"Content-Length": "abc"}), 400),
            ("a float", post(b"{}", {"Content-Length": "2.0"}), 400),
            ("empty", post(b"{}", {"Content-Length": ""}), 400),
            ("unicode digits", post(b"{}", {"Content-Length": "\u00b2"}), 400),
            ("conflicting", b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
            ("missing", b"POST / HTTP/1.1\r\nHost: webhook\r\n\r\n", 411),
            ("a terabyte (no body sent)", post(b"", {"Content-Length": str(10**12)}), 413),
        ]:
            # A server that waited for the announced body would time out and answer nothing.
            status, _ = exchange(port, request)
            check(f"Content-Length {name} -> {expected}", status == expected, status)

        print("== bodies that are not a notification: 400, nothing printed")
        for name, body in [
            ("not JSON", b"alerts!"),
            ("invalid UTF-8", b'{"alerts": "\xff\xfe"}'),
            ("a list", b"[1, 2]"),
            ("a string", b'"x"'),
            ("a number", b"5"),
            ("null", b"null"),
            ("alerts not a list", b'{"alerts": 5}'),
            ("an alert not an object", b'{"alerts": [5]}'),
            ("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000),
        ]:
            status, _ = exchange(port, post(body))
            check(f"{name} -> 400", status == 400, status)
        odd = json.dumps({"alerts": [{"status": 7, "labels": "x", "annotations": [1]}]}).encode()
        check("odd types inside an alert -> 200", exchange(port, post(odd))[0] == 200)

        print("== a client that stops mid-request is cut off, others are served meanwhile")
        with connect(port) as stalled, connect(port) as short_body:
            stalled.sendall(b"POST / HTTP/1.1\r\nHost: webhook\r\n")
            short_body.sendall(post(b'{"alerts"', {"Content-Length": "100"}))
            status, _ = exchange(port, post(valid))
            waiting = still_open(stalled) and still_open(short_body)
            check("a valid alert is answered while two clients stall", status == 200 and waiting, f"{status}, {waiting}")
            check("the stalled headers are cut off after the read timeout", closed_within(stalled, READ_TIMEOUT + 2))
            check("the short body is cut off after the read timeout", closed_within(short_body, READ_TIMEOUT + 2))

        print("== a client dripping a byte at a time is cut off at the deadline")
        held, cut = drip(port, threading.Event())
        check("cut off at the connection deadline", cut and held > DEADLINE - 0.5, f"cut={cut} after {held:.1f}s")

        print(f"== {SLOTS} drippers fill every slot: the next client gets 503 at once, not a hang")
        stop = threading.Event()
        connected = threading.Semaphore(0)
        results = []
        drippers = [
            threading.Thread(target=lambda: results.append(drip(port, stop, connected)), daemon=True)
            for _ in range(SLOTS)
        ]
        for thread in drippers:
            thread.start()
        all_connected = all(connected.acquire(timeout=5) for _ in range(SLOTS))
        # The server accepts connections in order: every dripper before this one.
        status, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: webhook\r\n\r\n")
        check("a client over the limit gets 503 at once", all_connected and status == 503, status)
        for thread in drippers:
            thread.join(DEADLINE + 3)
        stop.set()
        check("every dripper was cut off at the deadline", len(results) == SLOTS and all(cut for _, cut in results), results)

        print("== afterwards the same process still works")
        status, _ = exchange(port, post(valid))
        check("a valid alert -> 200", status == 200, status)
        health, _ = exchange(port, b"GET / HTTP/1.1\r\nHost: webhook\r\n\r\n")
        check("GET / -> 200", health == 200, health)
        check("still running", webhook.process.poll() is None, webhook.process.returncode)
    finally:
        stdout = webhook.stop()
    summaries = [line for line in stdout.splitlines() if "WebhookCheck" in line and line.startswith("[FIRING]")]
    check("each valid alert printed its summary line", len(summaries) == 2, stdout[-2000:])
    check(
        "the odd-typed alert printed a summary line",
        "[7] ? severity=- job=- :: " in stdout.splitlines(),
        stdout[-2000:],
    )
    traceback = "".join(webhook.stderr)
    check("no traceback on stderr", "Traceback" not in traceback, traceback[-2000:])
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
