"""Seed 000 ("DevOps: Flask task"), the baseline of web-flask-equivalent.

As in the seed: Flask only, a module-level visit counter and a hand-written `hello_world_counter`
exposition at /metrics. The seed's known bug is kept on purpose (this is the baseline): the counter
is a plain integer, so concurrent requests can read the same N, and under gunicorn every worker
process counts on its own.
"""

from flask import Flask, Response

app = Flask(__name__)
counter = 0


@app.route("/")
def hello():
    global counter
    counter += 1
    return f"Visit number {counter}\n"


@app.route("/metrics")
def metrics():
    body = (
        "# HELP hello_world_counter Visits answered by GET /.\n"
        "# TYPE hello_world_counter counter\n"
        f"hello_world_counter {counter}\n"
    )
    return Response(body, mimetype="text/plain")
