"""The SLO dashboard: error budgets and burn rates of the objectives in deploy/slo/*.yml (read by
deploy/slo/objectives.py), which deploy/slo/slo.py turns into recording rules and alerts."""

from __future__ import annotations

import sys
from pathlib import Path

from .overview import overview_service_variable
from .panels import dashboard, stat, target, targets, timeseries

ROOT = Path(__file__).resolve().parents[3]


def slo_dashboard() -> dict:
    """Error budgets and burn rates of the objectives in deploy/slo, from the recording rules the SLO
    generator writes (deploy/slo/slo.py): the objectives are read from there (deploy/slo/objectives.py),
    never written here."""
    sys.path.insert(0, str(ROOT / "deploy/slo"))
    import objectives as slo_spec  # needs PyYAML, like the rest of deploy/check.sh

    services = slo_spec.load()
    period = next(iter(services.values()))[0].period
    factors = {pair: slo_spec.num(pair.factor(period)) for pair in slo_spec.PAIRS}
    objectives = {kind: ", ".join(f"{slo.service} {slo_spec.num(slo.objective)}%" + (
        f" within {slo_spec.num(slo.threshold * 1000)} ms" if slo.threshold else "")
        for slos in services.values() for slo in slos if slo.kind == kind) for kind in slo_spec.KINDS}
    burn_steps = [{"color": "green", "value": None}, {"color": "yellow", "value": 1}]
    burn_steps += [{"color": "orange" if pair.severity == "ticket" else "red", "value": float(pair.factor(period))}
                   for pair in sorted(slo_spec.PAIRS, key=lambda p: p.factor(period)) if pair.factor(period) > 1]
    budget_steps = [{"color": "red", "value": None}, {"color": "orange", "value": 0}, {"color": "green", "value": 0.25}]
    pairs_text = "; ".join(f"{pair.severity} above {factors[pair]}x over {pair.long.name} and {pair.short.name}"
                           for pair in slo_spec.PAIRS)
    service_var = overview_service_variable() | {
        "query": {"query": "label_values(slo:objective:ratio, job)", "refId": "service"},
        "definition": "label_values(slo:objective:ratio, job)",
        "multi": False,
        "includeAll": False,
        "current": {"selected": True, "text": sorted(services)[0], "value": sorted(services)[0]},
        "description": "A service with objectives in deploy/slo (slo:objective:ratio is recorded for each).",
    }

    def sel(kind: str) -> str:
        return f'job="$service", slo="{kind}"'

    def with_thresholds(panel: dict, steps: list[dict]) -> dict:
        panel["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": steps}
        panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] = {"mode": "line"}
        return panel

    def decimals(panel: dict, places: int) -> dict:
        panel["fieldConfig"]["defaults"]["decimals"] = places
        return panel

    panels = [
        decimals(stat(
            f"Error budget remaining ({period.name}), every SLO",
            f"Share of each SLO's {period.name} error budget not yet spent "
            "(slo:period_error_budget_remaining:ratio): 100% untouched, 0 spent, below 0 overspent. "
            f"Objectives: availability {objectives['availability']}; latency {objectives['latency']}.",
            "percentunit", targets(("slo:period_error_budget_remaining:ratio", "{{job}} {{slo}}")),
            thresholds=budget_steps, w=24, h=5), 1),
        decimals(stat(
            "Burn rate over 1h, every SLO",
            "How fast each SLO spends its error budget over the last hour: 1 spends exactly the budget over "
            f"{period.name}; the alerts: {pairs_text}.", "none",
            targets(("slo:sli_error:ratio_rate1h / on (job, slo) slo:error_budget:ratio", "{{job}} {{slo}}")),
            thresholds=burn_steps, w=24, h=5), 1),
    ]
    stats, burns, budgets, slis = [], [], [], []
    for kind in slo_spec.KINDS:
        title = kind.capitalize()
        good = "not 5xx" if kind == "availability" else "answered within the latency threshold"
        stats += [
            decimals(stat(
                f"{title}: SLI over {period.name}",
                f"Share of $service's requests {good} over the last {period.name} "
                f"(1 - slo:sli_error:ratio_rate{period.name}), next to the objective. Objectives: {objectives[kind]}.",
                "percentunit", targets((f"1 - slo:sli_error:ratio_rate{period.name}{{{sel(kind)}}}", "SLI"),
                                       (f"slo:objective:ratio{{{sel(kind)}}}", "objective")), w=6), 3),
            decimals(stat(
                f"{title}: error budget remaining",
                f"Share of $service's {kind} error budget ({period.name}) not yet spent; below 0: overspent.",
                "percentunit", targets((f"slo:period_error_budget_remaining:ratio{{{sel(kind)}}}", "remaining")),
                thresholds=budget_steps, w=6), 1),
        ]
        burns.append(with_thresholds(timeseries(
            f"{title}: burn rate per window",
            f"$service's {kind} error ratio over each window divided by its error budget "
            f"(slo:sli_error:ratio_rate<window> / slo:error_budget:ratio). Lines: 1 = on budget, then the "
            f"alert factors ({pairs_text}). An alert needs its long and its short window above the line.",
            "none",
            [target(f"slo:sli_error:ratio_rate{w.name}{{{sel(kind)}}} / on (job, slo) slo:error_budget:ratio{{{sel(kind)}}}",
                    w.name, chr(ord("A") + i)) for i, w in enumerate(slo_spec.WINDOWS)]), burn_steps))
        budgets.append(with_thresholds(timeseries(
            f"{title}: error budget remaining over time",
            f"The trend of $service's remaining {kind} error budget over the rolling {period.name}: a steady "
            "slope down is a slow burn (tickets), a cliff a fast one (pages).", "percentunit",
            targets((f"slo:period_error_budget_remaining:ratio{{{sel(kind)}}}", "remaining")), minimum=None),
            budget_steps))
        slis.append(timeseries(
            f"{title}: SLI over 5m and 1h, and the objective",
            f"Share of $service's requests {good}, over the last 5 minutes and hour "
            "(1 - slo:sli_error:ratio_rate5m / 1h), and the objective (slo:objective:ratio). "
            "1 when there was no request.", "percentunit",
            targets((f"1 - slo:sli_error:ratio_rate5m{{{sel(kind)}}}", "5m"),
                    (f"1 - slo:sli_error:ratio_rate1h{{{sel(kind)}}}", "1h"),
                    (f"slo:objective:ratio{{{sel(kind)}}}", "objective")), minimum=None, maximum=1))
    panels += stats + burns + budgets + slis
    board = dashboard("ors-slo", "SLOs: error budgets",
                      f"Service level objectives (deploy/slo): per service and SLO, the SLI, the burn rate per "
                      f"window, the {period.name} error budget left and its trend. Alerts: {pairs_text}.",
                      panels, variables=[service_var])
    board["time"] = {"from": "now-7d", "to": "now"}
    return board
