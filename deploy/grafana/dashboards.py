#!/usr/bin/env python3
"""Generates dashboards/*.json, the Grafana dashboards provisioned by docker-compose.yml.

    python3 deploy/grafana/dashboards.py          # rewrite dashboards/*.json
    python3 deploy/grafana/dashboards.py --check  # exit 1 if a file differs (deploy/check.sh runs this)

Why a generator rather than hand-edited JSON: six dashboards share the same RED panels, datasource,
trace links and conventions (every panel has a title, a unit and a description; fixed uids). Written
once they cannot drift apart: the building blocks and one module per dashboard family live in
deploy/grafana/generator/, this file lists the dashboards and writes them. The JSON stays committed, so
Grafana (and anyone reading) needs no Python; to change a dashboard, edit its module and regenerate,
or export from Grafana and port the change back there.

PromQL rules for every expression (the stack test runs each one against a live Prometheus and fails
on an empty result):
- only metrics from docs/METRICS.md and the exporters listed there; valid on the pinned Prometheus 3.13;
- rate windows are $__rate_interval (Grafana: at least 4 x the datasource's 5s timeInterval);
- counters that legitimately stay absent until something goes wrong (errors, drops, deadman stops)
  end in `or on() vector(0)`: "no errors" shows as 0, not as "No data";
- the only template variable is $service: a regex over job names (overview), one service (SLOs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from generator.error_budgets import slo_dashboard
from generator.infrastructure import infrastructure
from generator.overview import overview
from generator.red_from_spans import red_from_spans
from generator.services import redis_counter, robot_control, url_prober, web_flask_equivalent

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "dashboards"

DASHBOARDS = {
    "overview.json": overview,
    "web-flask-equivalent.json": web_flask_equivalent,
    "redis-counter.json": redis_counter,
    "robot-control.json": robot_control,
    "url-prober.json": url_prober,
    "infrastructure.json": infrastructure,
    "slo.json": slo_dashboard,
    "red-from-spans.json": red_from_spans,
}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if dashboards/*.json differ from the generator")
    args = parser.parse_args()
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"dashboards out of date: {', '.join(stale)}; run: python3 deploy/grafana/dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
