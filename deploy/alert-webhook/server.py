"""A stand-in alert receiver for the local stack: prints every Alertmanager notification it gets.

Alertmanager (deploy/alertmanager/alertmanager.yml) posts to http://alert-webhook:5080/; each
notification becomes one JSON line on stdout (`docker compose logs -f alert-webhook`), with a short
human summary first. GET answers 200 for the health check. Standard library only, so the stock
python image runs it as-is (read-only root filesystem, no pip install).

Whatever reaches its port cannot crash or exhaust it: a bad Content-Length or body is a 4xx, a
body is read only up to MAX_BODY, every socket read and write has a timeout, every connection a
deadline (a client dripping one byte at a time is cut off), each connection has its own thread
so one slow client holds up no other, and at most MAX_CONNECTIONS are served at once (the next
ones get a 503 at once rather than a thread each). deploy/tests/check_alert_webhook.py tries it.

Environment: LISTEN_ADDR (default 0.0.0.0:5080; port 0 picks a free one, printed on stderr),
ALERT_WEBHOOK_READ_TIMEOUT (seconds per read or write, default 5), ALERT_WEBHOOK_DEADLINE
(seconds per connection, default 15).
"""

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # Alertmanager batches are small; refuse anything absurd.
MAX_CONNECTIONS = 32
READ_TIMEOUT = float(os.environ.get("ALERT_WEBHOOK_READ_TIMEOUT", "5"))
DEADLINE = float(os.environ.get("ALERT_WEBHOOK_DEADLINE", "15"))
BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nbusy\n"


class BadRequest(Exception):
    """A request answered with `status` and a one-line `message`."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(BaseHTTPRequestHandler):
    timeout = READ_TIMEOUT  # socketserver sets it on the socket: every read and write is bounded

    def setup(self):
        super().setup()
        # The per-read timeout does not stop a client that sends one byte per read: the deadline
        # shuts the socket down, which ends any read or write in progress.
        self._deadline = threading.Timer(DEADLINE, self._cut_off)
        self._deadline.daemon = True
        self._deadline.start()

    def finish(self):
        self._deadline.cancel()
        try:
            super().finish()
        except OSError:
            pass

    def _cut_off(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle(self):
        try:
            super().handle()
        except OSError:  # a timeout, a reset, the deadline: the client is gone, nothing to answer
            self.close_connection = True

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._answer(200, b"ok\n")

    def do_POST(self):  # noqa: N802
        self.close_connection = True
        try:
            body = self._body()
            if body is None:
                return  # the client went away before sending it all
            payload, alerts = notification(body)
        except BadRequest as refused:
            self._answer(refused.status, refused.message.encode() + b"\n")
            return
        for alert in alerts:
            print(summary(alert), flush=True)
        print(json.dumps(payload, separators=(",", ":")), flush=True)
        self._answer(200, b"ok\n")

    def _body(self):
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise BadRequest(411, "a POST needs a Content-Length")
        if len(set(lengths)) > 1:
            raise BadRequest(400, "conflicting Content-Length headers")
        raw = lengths[0].strip()
        if not (raw.isascii() and raw.isdigit()):
            raise BadRequest(400, "Content-Length must be a whole number of bytes")
        length = int(raw)
        if length > MAX_BODY:
            raise BadRequest(413, f"body over {MAX_BODY} bytes")
        body = self.rfile.read(length)
        return body if len(body) == length else None

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # the notifications above are the log; skip access lines
        pass


def notification(body):
    """An Alertmanager notification (a JSON object with an `alerts` list) and its alerts."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: `[[[[...` nested too deep
        raise BadRequest(400, "expected JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest(400, "expected a JSON object")
    alerts = payload.get("alerts", [])
    if not isinstance(alerts, list) or not all(isinstance(alert, dict) for alert in alerts):
        raise BadRequest(400, "`alerts` must be a list of objects")
    return payload, alerts


def summary(alert):
    """`[FIRING] Name severity=page job=x :: summary`, whatever the types inside the alert."""

    def field(value, key, default):
        return str(value.get(key, default)) if isinstance(value, dict) else default

    labels = alert.get("labels")
    return (
        f"[{field(alert, 'status', '?').upper()}] {field(labels, 'alertname', '?')}"
        f" severity={field(labels, 'severity', '-')} job={field(labels, 'job', '-')}"
        f" :: {field(alert.get('annotations'), 'summary', '')}"
    )


class Server(ThreadingHTTPServer):
    """A thread per connection, at most MAX_CONNECTIONS at once."""

    daemon_threads = True
    request_queue_size = 2 * MAX_CONNECTIONS  # listen backlog: socketserver's 5 drops bursts of connects

    def __init__(self, address):
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            try:
                request.settimeout(1)
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def main():
    host, _, port = os.environ.get("LISTEN_ADDR", "0.0.0.0:5080").rpartition(":")
    server = Server((host or "0.0.0.0", int(port)))
    bound_host, bound_port = server.server_address[:2]
    print(f"alert-webhook listening on {bound_host}:{bound_port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
