"""The infrastructure dashboard: scrape targets, firing alerts, the host (node-exporter) and the
containers (cAdvisor)."""

from __future__ import annotations

from .panels import RI, UP_DOWN, dashboard, stat, table, target, targets, timeseries


def infrastructure() -> dict:
    compose = "container_label_com_docker_compose_service"
    csel = f'{compose}!=""'
    fs = 'fstype!~"tmpfs|ramfs|squashfs|nsfs"'
    panels = [
        stat("Targets up", "Every scrape target of Prometheus by job (up). Alert TargetDown fires after 1m down.",
             "none", targets(("min by (job) (up)", "{{job}}")), mappings=UP_DOWN,
             thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}], w=24, h=5),
        stat("Firing alerts", "Number of alerts firing now (ALERTS{alertstate=\"firing\"}); 0 when none.",
             "none", targets(('count(ALERTS{alertstate="firing"}) or on() vector(0)', "firing")),
             thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}], w=6, h=8),
        table("Firing alerts by name, severity and job", "The alerts firing now; a single row with value 0 "
              "when none. Details and silences: Alertmanager (http://localhost:9093).",
              [target('sum by (alertname, severity, job) (ALERTS{alertstate="firing"}) or on() vector(0)',
                      ref="A", instant=True) | {"format": "table"}], w=18),
        timeseries("Scrape duration by job", "How long Prometheus takes to scrape each job; close to the 4s "
                   "timeout means the target is overloaded or its /metrics too large.", "s",
                   targets(("max by (job) (scrape_duration_seconds)", "{{job}}"))),
        timeseries("Host load per CPU", "node_load1 / CPU count per host. Alert HighHostLoad fires above 1.5 "
                   "for 5m.", "none",
                   targets(("node_load1 / on (job, instance) count by (job, instance) (node_cpu_seconds_total{mode=\"idle\"})",
                            "{{instance}} load1/CPU"))),
        timeseries("Host load average", "1, 5 and 15-minute load averages (node-exporter).", "none",
                   targets(("node_load1", "{{instance}} 1m"), ("node_load5", "{{instance}} 5m"),
                           ("node_load15", "{{instance}} 15m"))),
        timeseries("Host memory used", "Share of host memory not available to new processes "
                   "(1 - MemAvailable / MemTotal).", "percentunit",
                   targets(("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}")),
                   maximum=1),
        timeseries("Host filesystem used", "Share of each real filesystem in use (tmpfs and the like excluded).",
                   "percentunit",
                   targets((f"1 - node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}}",
                            "{{instance}} {{mountpoint}}")), maximum=1),
        timeseries("Container CPU (cAdvisor)", "CPU per Compose service's container, as a fraction of one core "
                   "(cAdvisor; Docker only).", "percentunit",
                   targets((f"sum by ({compose}) (rate(container_cpu_usage_seconds_total{{{csel}}}[{RI}]))",
                            f"{{{{{compose}}}}}"))),
        timeseries("Container memory (cAdvisor)", "Memory per Compose service's container (cAdvisor "
                   "container_memory_usage_bytes, page cache included).", "bytes",
                   targets((f"sum by ({compose}) (container_memory_usage_bytes{{{csel}}})", f"{{{{{compose}}}}}"))),
        timeseries("Container memory vs limit (cAdvisor)", "Memory use over the container's limit; containers "
                   "without a limit are left out. Alert ContainerMemoryNearLimit fires above 80% for 10m.",
                   "percentunit",
                   targets((f"max by ({compose}) (container_memory_usage_bytes{{{csel}}}"
                            f" / (container_spec_memory_limit_bytes{{{csel}}} > 0))", f"{{{{{compose}}}}}")),
                   maximum=1),
        timeseries("Container network received (cAdvisor)", "Bytes per second received per Compose service's "
                   "container (cAdvisor).", "Bps",
                   targets((f"sum by ({compose}) (rate(container_network_receive_bytes_total{{{csel}}}[{RI}]))",
                            f"{{{{{compose}}}}}"))),
    ]
    return dashboard("ors-infrastructure", "Infrastructure",
                     "Scrape targets, firing alerts, host (node-exporter) and containers (cAdvisor).", panels,
                     links=[{"title": "Alertmanager", "type": "link", "url": "http://localhost:9093",
                             "targetBlank": True, "icon": "bolt", "tags": [], "asDropdown": False,
                             "includeVars": False, "keepTime": False}])
