"""The building blocks every dashboard is made of: Prometheus queries, the panel types we use (time
series, stat, state timeline, table), the grid layout and the dashboard around the panels. Each
panel gets a title, a description and a unit here, so no dashboard can leave one out."""

from __future__ import annotations

PROM = {"type": "prometheus", "uid": "prometheus"}  # the provisioned datasource (datasources.yml)
GRAFANA = {"type": "grafana", "uid": "-- Grafana --"}  # Grafana's own, for the built-in annotations
RI = "$__rate_interval"  # every rate window but the 5m ones (see dashboards.py's PromQL rules)
HTTP = "http_server_request_duration_seconds"  # the server histogram of crates/telemetry
TAG = "observable-rust-services"  # on every dashboard: the "Dashboards" dropdown lists them by it


def target(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, exemplar: bool = False) -> dict:
    return {
        "datasource": PROM,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "exemplar": exemplar,
        "refId": ref,
    }


def targets(*specs: tuple) -> list[dict]:
    """targets(("expr", "legend"), ...) with refIds A, B, C, ..."""
    return [target(*spec, ref=chr(ord("A") + index)) for index, spec in enumerate(specs)]


def timeseries(title: str, description: str, unit: str, tgts: list[dict], *, links=None, bars=False,
               stack=False, minimum=0, maximum=None, w=12, h=8) -> dict:
    defaults = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "bars" if bars else "line",
            "lineWidth": 1,
            "fillOpacity": 80 if bars else 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
        "links": links or [],
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": tgts,
        "_size": (w, h),
    }


UP_DOWN = [
    {"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                  "1": {"text": "UP", "color": "green", "index": 1}}}
]
ON_OFF = [
    {"type": "value", "options": {"0": {"text": "off", "color": "dark-blue", "index": 0},
                                  "1": {"text": "on", "color": "yellow", "index": 1}}}
]


def stat(title: str, description: str, unit: str, tgts: list[dict], *, mappings=None, thresholds=None,
         links=None, w=6, h=5) -> dict:
    steps = thresholds or [{"color": "green", "value": None}]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "mappings": mappings or [],
                "thresholds": {"mode": "absolute", "steps": steps},
                "color": {"mode": "thresholds"},
                "links": links or [],
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "auto",
            "orientation": "auto",
        },
        "targets": tgts,
        "_size": (w, h),
    }


def state_timeline(title: str, description: str, tgts: list[dict], mappings: list[dict], *, w=12, h=8) -> dict:
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {
            "defaults": {
                "unit": "none",
                "mappings": mappings,
                "thresholds": {"mode": "absolute", "steps": [{"color": "text", "value": None}]},
                "color": {"mode": "thresholds"},
                "custom": {"fillOpacity": 80, "lineWidth": 0},
            },
            "overrides": [],
        },
        "options": {
            "mergeValues": True,
            "showValue": "auto",
            "alignValue": "left",
            "rowHeight": 0.9,
            "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        "targets": tgts,
        "_size": (w, h),
    }


def table(title: str, description: str, tgts: list[dict], *, w=12, h=8) -> dict:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {"defaults": {"unit": "none", "custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm"},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "firing"}}}
        ],
        "targets": tgts,
        "_size": (w, h),
    }


def layout(panels: list[dict]) -> list[dict]:
    """Left-to-right, top-to-bottom placement; ids in order (unique per dashboard)."""
    x = y = row_h = 0
    for index, panel in enumerate(panels, start=1):
        w, h = panel.pop("_size")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        panel["id"] = index
        panel["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x, row_h = x + w, max(row_h, h)
    return panels


def dashboard(uid: str, title: str, description: str, panels: list[dict], *, variables=None, links=None) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,  # shared crosshair: line up a latency spike with CPU, Redis, ...
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "schemaVersion": 39,
        "version": 1,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": GRAFANA,
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {"title": "Dashboards", "type": "dashboards", "tags": [TAG], "asDropdown": True,
             "includeVars": False, "keepTime": True, "icon": "external link", "targetBlank": False},
            *(links or []),
        ],
        "templating": {"list": variables or []},
        "panels": layout(panels),
    }
