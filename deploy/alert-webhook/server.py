"""A stand-in alert receiver for the local stack: prints every Alertmanager notification it gets.

Alertmanager (deploy/alertmanager/alertmanager.yml) posts to http://alert-webhook:5080/; each
notification becomes one JSON line on stdout (`docker compose logs -f alert-webhook`), with a short
human summary first. GET answers 200 for the health check. Standard library only, so the stock
python image runs it as-is (read-only root filesystem, no pip install).
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 5080
MAX_BODY = 1 << 20  # Alertmanager batches are small; refuse anything absurd.


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._answer(200, b"ok\n")

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, b"too large\n")
            return
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except ValueError:
            self._answer(400, b"expected JSON\n")
            return
        for alert in payload.get("alerts", []):
            labels = alert.get("labels", {})
            print(
                f"[{alert.get('status', '?').upper()}] {payload.get('receiver', '?')}: {labels.get('alertname', '?')}"
                f" severity={labels.get('severity', '-')} job={labels.get('job', '-')}"
                f" :: {alert.get('annotations', {}).get('summary', '')}",
                flush=True,
            )
        print(json.dumps(payload, separators=(",", ":")), flush=True)
        self._answer(200, b"ok\n")

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # the notifications above are the log; skip access lines
        pass


if __name__ == "__main__":
    print(f"alert-webhook listening on :{PORT}", file=sys.stderr, flush=True)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
