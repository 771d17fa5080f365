"""What every check module shares: the repository's root, our services and their ports, the list of
problems a check fills, and the files several checks read (docker-compose.yml, prometheus.yml, the
alert rules, the dashboards), read the same way everywhere."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
# Each service of ours (a crate) and its port: the Compose service, Prometheus job and OTel service.name.
OUR_SERVICES = {
    "web-flask-equivalent": 5000,
    "redis-counter": 5001,
    "robot-control": 6543,
    "url-prober": 8080,
    "loadgen": 9000,
}


class Problems(list):
    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.append(message)


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def compose() -> dict:
    return load_yaml(ROOT / "docker-compose.yml")


def scrape_configs() -> list[dict]:
    """The scrape jobs of Compose's Prometheus (deploy/prometheus/prometheus.yml)."""
    return load_yaml(ROOT / "deploy/prometheus/prometheus.yml")["scrape_configs"]


def job_targets(job: dict) -> list[str]:
    """The host:port targets of a scrape job (or an alertmanagers entry): its static_configs' targets."""
    return [t for static in job.get("static_configs", []) for t in static.get("targets", [])]


def rule_groups() -> list:
    groups = []
    for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
        groups.extend(load_yaml(path)["groups"])
    return groups


def container_ports(service: dict) -> set[int]:
    """The container ports a Compose service publishes or exposes (what other services can reach)."""
    ports = set()
    for entry in service.get("ports", []) or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    ports.update(int(str(port).split("/")[0]) for port in service.get("expose", []) or [])
    return ports


def dashboard_files() -> list[Path]:
    return sorted((ROOT / "dashboards").glob("*.json"))


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows
    return panels
