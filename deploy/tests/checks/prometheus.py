"""Prometheus's configuration beyond what promtool checks: every scrape target is a Compose service
port and every service is scraped (`scrape`); every alert has a severity, annotations, a runbook
section and a firing and a quiet test case, and Alertmanager's inhibitions name real alerts (`rules`)."""

from __future__ import annotations

import re

from .common import OUR_SERVICES, ROOT, Problems, compose, container_ports, job_targets, load_yaml, rule_groups


def alerts() -> list[dict]:
    """Every alerting rule of deploy/prometheus/rules (recording rules left out)."""
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def check_scrape(problems: Problems) -> str:
    services = compose()["services"]
    config = load_yaml(ROOT / "deploy/prometheus/prometheus.yml")
    jobs = {}
    for job in config["scrape_configs"]:
        targets = job_targets(job)
        jobs[job["job_name"]] = targets
        problems.check(len(targets) > 0, f"prometheus.yml: job {job['job_name']} has no targets")
        for target in targets:
            host, _, port = target.rpartition(":")
            problems.check(host in services, f"prometheus.yml: {target} is not a Compose service")
            if host in services:
                problems.check(int(port) in container_ports(services[host]),
                               f"prometheus.yml: {target}: port {port} is not published or exposed by {host}")
            problems.check(job["job_name"] == host or job["job_name"].startswith(host + "-"),
                           f"prometheus.yml: job {job['job_name']} should be named {host} (or {host}-<what>)")
    for name, port in OUR_SERVICES.items():
        problems.check(jobs.get(name) == [f"{name}:{port}"], f"prometheus.yml: {name} is not scraped at {name}:{port}")
    for exporter in ("redis-exporter", "node-exporter", "cadvisor", "prometheus", "alertmanager", "jaeger",
                     "jaeger-spanmetrics"):
        problems.check(exporter in jobs, f"prometheus.yml: {exporter} is not scraped")
    managers = [t for am in config.get("alerting", {}).get("alertmanagers", []) for t in job_targets(am)]
    problems.check(managers == ["alertmanager:9093"], "prometheus.yml: alertmanager target missing")
    problems.check(config.get("rule_files") == ["rules/*.yml"], "prometheus.yml: rule_files must be rules/*.yml")
    return f"{len(jobs)} scrape jobs"


def check_rules(problems: Problems) -> str:
    rules = alerts()
    names = [rule["alert"] for rule in rules]
    # An alert name is used once, except the generated SLO burn alerts (deploy/slo): one rule per
    # service and window pair, told apart by their job and labels.
    identities = [(rule["alert"], re.findall(r'job="([^"]*)"', rule["expr"])[:1], sorted(rule.get("labels", {}).items()))
                  for rule in rules]
    problems.check(len(identities) == len(set(map(repr, identities))), "rules: duplicate alert rules")
    runbooks = (ROOT / "docs/runbooks.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^## (.+)$", runbooks, re.M)}
    tests = "\n".join(path.read_text() for path in sorted((ROOT / "deploy/prometheus/tests").glob("*.yml")))
    for rule in rules:
        name = rule["alert"]
        problems.check(rule.get("labels", {}).get("severity") in {"critical", "warning", "info", "page", "ticket"},
                       f"rules: {name} has no severity critical|warning|info|page|ticket")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            problems.check(bool(annotations.get(key)), f"rules: {name} has no {key} annotation")
        runbook = annotations.get("runbook", "")
        if runbook.startswith("docs/runbooks.md#"):
            problems.check(runbook.split("#", 1)[1] in anchors, f"rules: {name}: {runbook} has no section")
        # A firing case (exp_alerts with labels) and a not-firing case (exp_alerts: []) per alert.
        blocks = re.findall(rf"alertname: {name}\n\s+eval_time: \S+.*\n\s+exp_alerts:(.*)", tests)
        problems.check(any(b.strip() == "[]" for b in blocks), f"rules: {name} has no not-firing test case")
        problems.check(any(b.strip() == "" for b in blocks), f"rules: {name} has no firing test case")
    # Inhibitions and routes must name alerts that exist.
    manager = load_yaml(ROOT / "deploy/alertmanager/alertmanager.yml")
    for rule in manager.get("inhibit_rules", []):
        for matcher in rule.get("source_matchers", []) + rule.get("target_matchers", []):
            match = re.match(r'alertname(=~?)"(.*)"', matcher)
            if match:
                wanted = match.group(2).split("|") if match.group(1) == "=~" else [match.group(2)]
                for alert in wanted:
                    problems.check(alert in names, f"alertmanager.yml: inhibition names unknown alert {alert}")
    return f"{len(rules)} alerts"
