"""Links from a panel to its service's traces: Grafana Explore on the Jaeger datasource, searching
the service (or the series' `job` label) in the dashboard's time range."""

from __future__ import annotations

import json
from urllib.parse import quote


def jaeger_explore_url(service: str) -> str:
    """Grafana Explore on the Jaeger datasource, searching the service's traces in the dashboard's
    time range. `service` may be a Grafana variable such as ${__field.labels.job}; it is left
    unencoded so Grafana can interpolate it."""
    marker = "SERVICE_PLACEHOLDER"
    panes = {
        "a": {
            "datasource": "jaeger",
            "queries": [
                {
                    "refId": "A",
                    "datasource": {"type": "jaeger", "uid": "jaeger"},
                    "queryType": "search",
                    "service": marker,
                }
            ],
            "range": {"from": "$__from", "to": "$__to"},
        }
    }
    encoded = quote(json.dumps(panes, separators=(",", ":")), safe="")
    encoded = encoded.replace(quote("$__from", safe=""), "${__from}").replace(quote("$__to", safe=""), "${__to}")
    return "/explore?schemaVersion=1&orgId=1&panes=" + encoded.replace(marker, service)


def trace_link_by_job() -> list[dict]:
    """Data link on series that carry a `job` label: click a point, see that service's traces."""
    return [{"title": "Traces of ${__field.labels.job} in Jaeger", "url": jaeger_explore_url("${__field.labels.job}")}]


def trace_link(service: str) -> list[dict]:
    return [{"title": f"Traces of {service} in Jaeger", "url": jaeger_explore_url(service)}]
