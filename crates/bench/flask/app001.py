"""Seed 001 (cortico-test), the baseline of redis-counter.

As in the seed: Flask + prometheus_flask_exporter (RED metrics at /metrics, `app_info`) + Redis
`INCR hits` with the Docker getting-started retry loop (5 retries, 0.5 s apart). Redis is found
through REDIS_HOST / REDIS_PORT (the seed hard-codes the Compose host name `redis`).
"""

import os
import time

import redis
from flask import Flask
from prometheus_flask_exporter import PrometheusMetrics

app = Flask(__name__)
metrics = PrometheusMetrics(app)
metrics.info("app_info", "Application info", version="1.0.3")
cache = redis.Redis(
    host=os.environ.get("REDIS_HOST", "redis"), port=int(os.environ.get("REDIS_PORT", "6379"))
)


def get_hit_count():
    retries = 5
    while True:
        try:
            return cache.incr("hits")
        except redis.exceptions.ConnectionError as exc:
            if retries == 0:
                raise exc
            retries -= 1
            time.sleep(0.5)


@app.route("/")
def hello():
    count = get_hit_count()
    return "Hello World! I have been seen {} times.\n".format(count)
