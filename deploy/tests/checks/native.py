"""The native stack (`just dev`, `just load`): scripts/native-prometheus-config.sh's output scrapes
what Compose's Prometheus scrapes, on 127.0.0.1, minus what cannot run natively; dev.sh's loadgen runs
as Compose's does; `just load` reuses `just dev`'s debug build (`dev`)."""

from __future__ import annotations

import re

from .common import OUR_SERVICES, ROOT, Problems, compose, job_targets, scrape_configs


NOT_NATIVE = {"cadvisor"}


def shell_command(text: str, marker: str) -> list[str]:
    """The words of the (backslash-continued) command line in `text` that starts with `marker`."""
    joined = text.replace("\\\n", " ")
    line = next((l for l in joined.splitlines() if l.strip().startswith(marker)), "")
    return line.split()


def check_dev(problems: Problems, native: dict) -> str:
    compose_jobs = {job["job_name"]: job_targets(job) for job in scrape_configs()}
    wanted = {name for name, targets in compose_jobs.items()
              if not any(t.rsplit(":", 1)[0] in NOT_NATIVE for t in targets)}
    jobs = {job["job_name"]: job_targets(job) for job in native.get("scrape_configs", [])}
    problems.check(set(jobs) == wanted, f"native prometheus.yml: jobs {sorted(jobs)}, want {sorted(wanted)} "
                                        f"(no jobs for {sorted(NOT_NATIVE)}: they cannot run natively)")
    for name, targets in jobs.items():
        for target in targets:
            problems.check(target.startswith("127.0.0.1:") and target.split(":")[1] == compose_jobs.get(name, [""])[0].rsplit(":", 1)[-1],
                           f"native prometheus.yml: job {name} target {target} is not its Compose port on 127.0.0.1")
    dev = (ROOT / "scripts/dev.sh").read_text()
    loadgen = shell_command(dev, "start loadgen")
    binary = "target/debug/loadgen"
    problems.check(binary in loadgen, "scripts/dev.sh: does not start loadgen (target/debug/loadgen)")
    if binary in loadgen:
        args = loadgen[loadgen.index(binary) + 1:]
        problems.check(args == compose()["services"]["loadgen"].get("command"),
                       f"scripts/dev.sh: loadgen {args} differs from docker-compose.yml's {compose()['services']['loadgen'].get('command')}")
        env = dict(w.split("=", 1) for w in loadgen if "=" in w and not w.startswith("-"))
        for variable, service in (("LOADGEN_WEB_URL", "web-flask-equivalent"), ("LOADGEN_REDIS_URL", "redis-counter"),
                                  ("LOADGEN_ROBOT_URL", "robot-control"), ("LOADGEN_PROBER_URL", "url-prober")):
            problems.check(env.get(variable) == f"http://127.0.0.1:{OUR_SERVICES[service]}",
                           f"scripts/dev.sh: loadgen {variable} is not http://127.0.0.1:{OUR_SERVICES[service]}")
    # The services export to the native Jaeger as Compose's do to its: same protocol, same port.
    exported = dict(w.split("=", 1) for w in shell_command(dev, "export OTEL_EXPORTER_OTLP_ENDPOINT") if "=" in w)
    telemetry = compose().get("x-telemetry-env", {})
    problems.check(exported.get("OTEL_EXPORTER_OTLP_PROTOCOL") == telemetry.get("OTEL_EXPORTER_OTLP_PROTOCOL"),
                   f"scripts/dev.sh: OTEL_EXPORTER_OTLP_PROTOCOL {exported.get('OTEL_EXPORTER_OTLP_PROTOCOL')!r} is not "
                   f"docker-compose.yml's {telemetry.get('OTEL_EXPORTER_OTLP_PROTOCOL')!r}")
    compose_endpoint = str(telemetry.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
    problems.check(exported.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://127.0.0.1:" + compose_endpoint.rsplit(":", 1)[-1],
                   f"scripts/dev.sh: OTEL_EXPORTER_OTLP_ENDPOINT {exported.get('OTEL_EXPORTER_OTLP_ENDPOINT')!r} is not "
                   f"docker-compose.yml's {compose_endpoint!r} on 127.0.0.1")
    build = shell_command(dev, "cargo build")
    justfile = (ROOT / "justfile").read_text()
    recipe = re.search(r"^load \*args:\n((?:    .*\n)+)", justfile, re.M)
    body = recipe.group(1) if recipe else ""
    problems.check(bool(build) and "--release" not in body and any(l.split() == build for l in body.splitlines()),
                   f"justfile: `just load` must build as scripts/dev.sh does ({' '.join(build)}), not a release build")
    problems.check(binary in body, f"justfile: `just load` must run {binary}, the binary `just dev` built")
    return f"{len(jobs)} native scrape jobs"
