"""docker-compose.yml: what each service runs and waits for, which ports reach the host and on which
address, and which services get an optional variable (`compose`, `ports`, `port-scenario`,
`optional-env`). The host-port checks read `docker-compose config` output, so they see the file as
Compose resolves it with each set of variables deploy/check.sh tries."""

from __future__ import annotations

import re

from .common import OUR_SERVICES, ROOT, Problems, compose

JAEGER_CONFIG_IN_CONTAINER = "/etc/jaeger/config.yml"


def check_compose(problems: Problems) -> str:
    services = compose()["services"]
    for name, service in services.items():
        image, build = service.get("image"), service.get("build")
        problems.check(bool(image or build), f"compose: {name} has neither image nor build")
        if image and not build:
            tag = image.rsplit("/", 1)[-1]
            problems.check(":" in tag and not tag.endswith(":latest"), f"compose: {name} image {image!r} is not pinned")
        health = service.get("healthcheck") or {}
        problems.check(bool(health.get("test")) and not health.get("disable"), f"compose: {name} has no healthcheck")
        depends = service.get("depends_on") or {}
        problems.check(isinstance(depends, dict), f"compose: {name} depends_on must use conditions (a mapping)")
        if isinstance(depends, dict):
            for other, spec in depends.items():
                problems.check(other in services, f"compose: {name} depends on unknown service {other}")
                problems.check((spec or {}).get("condition") == "service_healthy",
                               f"compose: {name} depends on {other} without condition: service_healthy")
    for name, port in OUR_SERVICES.items():
        service = services.get(name)
        problems.check(service is not None, f"compose: service {name} (a crate) is missing")
        if not service:
            continue
        problems.check((service.get("build") or {}).get("target") == name, f"compose: {name} must build target {name}")
        env = service.get("environment") or {}
        problems.check(env.get("LISTEN_ADDR") == f"0.0.0.0:{port}", f"compose: {name} LISTEN_ADDR is not 0.0.0.0:{port}")
        problems.check(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://jaeger:4317", f"compose: {name} OTLP endpoint")
        problems.check(env.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc", f"compose: {name} OTLP protocol")
        problems.check(service.get("read_only") is True, f"compose: {name} root filesystem is not read-only")
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        problems.check(f":{port}/healthz" in test, f"compose: {name} healthcheck does not probe :{port}/healthz")
    grafana = services.get("grafana", {}).get("environment", {})
    # Required, with a message (Compose's ${VAR:?message}): no default admin password.
    problems.check(re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", str(grafana.get("GF_SECURITY_ADMIN_PASSWORD")))
                   is not None, "compose: Grafana admin password must be ${GRAFANA_ADMIN_PASSWORD:?message} (no default)")
    # Grafana 13 supports only Viewer as the anonymous role; viewers_can_edit lets Viewers open Explore,
    # where every trace link leads (pkg/api/accesscontrol.go: fixed:datasources:explorer).
    problems.check(grafana.get("GF_AUTH_ANONYMOUS_ORG_ROLE") == "Viewer", "compose: Grafana anonymous role is not Viewer")
    problems.check(str(grafana.get("GF_USERS_VIEWERS_CAN_EDIT")).lower() == "true",
                   "compose: anonymous Viewers cannot open Explore (set GF_USERS_VIEWERS_CAN_EDIT: \"true\")")
    prometheus = " ".join(services.get("prometheus", {}).get("command", []))
    problems.check("--enable-feature=exemplar-storage" in prometheus, "compose: Prometheus without exemplar storage")
    problems.check("--web.enable-lifecycle" not in prometheus,
                   "compose: Prometheus --web.enable-lifecycle lets anyone who reaches it POST /-/quit")
    cadvisor = str(services.get("cadvisor", {}).get("image", ""))
    match = re.fullmatch(r"ghcr\.io/google/cadvisor:v?(\d+)\.(\d+)\.(\d+)", cadvisor)
    problems.check(match is not None and tuple(map(int, match.groups())) >= (0, 54, 0),
                   f"compose: cAdvisor {cadvisor!r}: needs ghcr.io/google/cadvisor >= v0.54.0 (containerd image store)")
    jaeger = services.get("jaeger", {})
    problems.check(jaeger.get("command") == ["--config", JAEGER_CONFIG_IN_CONTAINER],
                   f"compose: jaeger must run with --config {JAEGER_CONFIG_IN_CONTAINER}")
    problems.check(f"./deploy/jaeger/config.yml:{JAEGER_CONFIG_IN_CONTAINER}:ro" in (jaeger.get("volumes") or []),
                   "compose: jaeger must mount ./deploy/jaeger/config.yml read-only")
    header = (ROOT / "docker-compose.yml").read_text().split("\nx-rust-service", 1)[0]
    for variable in sorted({v for v, _ in PUBLISHED.values()} | {"BIND_ADDR", "GRAFANA_ADMIN_PASSWORD"}):
        problems.check(variable in header, f"compose: {variable} is not documented in docker-compose.yml's header")
    return f"{len(services)} Compose services"


# --- host ports --------------------------------------------------------------------------------------

# What a person opens from the host, and nothing else: (service, container port) -> (host port
# variable, default). Redis, the exporters, cAdvisor, loadgen and alert-webhook are not published.
PUBLISHED = {
    ("grafana", 3000): ("GRAFANA_PORT", 3000),
    ("jaeger", 16686): ("JAEGER_UI_PORT", 16686),
    ("jaeger", 4317): ("JAEGER_OTLP_GRPC_PORT", 4317),
    ("jaeger", 4318): ("JAEGER_OTLP_HTTP_PORT", 4318),
    ("prometheus", 9090): ("PROMETHEUS_PORT", 9090),
    ("alertmanager", 9093): ("ALERTMANAGER_PORT", 9093),
    # Not 5000 on the host: macOS's AirPlay receiver listens there.
    ("web-flask-equivalent", 5000): ("WEB_FLASK_EQUIVALENT_PORT", 5050),
    ("redis-counter", 5001): ("REDIS_COUNTER_PORT", 5001),
    ("robot-control", 6543): ("ROBOT_CONTROL_PORT", 6543),
    ("url-prober", 8080): ("URL_PROBER_PORT", 8080),
}
# Whoever reaches these can stop or query Prometheus, silence every alert or write spans: loopback
# only, even when BIND_ADDR opens the pages to the LAN.
LOOPBACK_ONLY = {("prometheus", 9090), ("alertmanager", 9093), ("jaeger", 4317), ("jaeger", 4318)}
# The variable sets deploy/check.sh resolves docker-compose.yml with (besides GRAFANA_ADMIN_PASSWORD).
PORT_SCENARIOS = {
    "default": {},
    "lan": {"BIND_ADDR": "0.0.0.0"},
    "custom": {variable: str(20000 + index) for index, (variable, _) in enumerate(PUBLISHED.values())},
}


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port, in either Compose syntax."""
    result = []
    for entry in service.get("ports", []) or []:
        if isinstance(entry, dict):
            result.append((str(entry.get("host_ip", "")), int(entry.get("published", 0) or 0), int(entry["target"])))
            continue
        text = str(entry).split("/")[0]
        parts = text.rsplit(":", 2) if text.count(":") >= 2 else [""] + text.split(":")
        if len(parts) == 2:
            parts = [""] + parts
        host_ip, host_port, target = parts[-3], parts[-2], parts[-1]
        result.append((host_ip, int(host_port or 0), int(target)))
    return result


def check_ports(problems: Problems, resolved: dict, scenario: str) -> str:
    """docker-compose.yml as Compose resolved it with PORT_SCENARIOS[scenario]'s variables."""
    variables = PORT_SCENARIOS[scenario]
    seen = set()
    for name, service in resolved["services"].items():
        for host_ip, host_port, target in published_ports(service):
            key = (name, target)
            where = f"compose ({scenario}): {name} publishes {host_ip or '*'}:{host_port}->{target}"
            problems.check(key in PUBLISHED, f"{where}: nobody opens it from the host (use expose)")
            if key not in PUBLISHED:
                continue
            seen.add(key)
            variable, default = PUBLISHED[key]
            wanted_port = int(variables.get(variable, default))
            problems.check(host_port == wanted_port, f"{where}: host port should be ${{{variable}}} = {wanted_port}")
            wanted_ip = "127.0.0.1" if key in LOOPBACK_ONLY else variables.get("BIND_ADDR", "127.0.0.1")
            problems.check(host_ip == wanted_ip, f"{where}: should bind {wanted_ip}")
            problems.check(host_port != 5000 or scenario == "custom", f"{where}: 5000 is macOS's AirPlay receiver")
    for key in sorted(set(PUBLISHED) - seen):
        problems.append(f"compose ({scenario}): {key[0]} does not publish container port {key[1]}")
    return f"{len(seen)} published ports"


def check_optional_env(problems: Problems, resolved: dict, variable: str, value: str, services: list[str]) -> str:
    """An optional variable as Compose resolved it: the services that use it get `value` (empty when
    it is unset, which they take as unset), and no other service gets it (it may be a secret)."""
    for name, service in resolved["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(e.split("=", 1) if "=" in e else (e, None) for e in environment)
        if name in services:
            got = environment.get(variable)
            problems.check(got == value, f"compose: {name} gets {variable}={got!r}, expected {value!r}")
        else:
            problems.check(variable not in environment, f"compose: {name} gets {variable}, which only {', '.join(services)} need")
    return f"{variable}={value!r} reaches exactly {', '.join(services)}"
