#!/usr/bin/env python3
"""Generates the SLO recording rules, burn-rate alerts and their promtool tests from deploy/slo/*.yml.

    python3 deploy/slo/slo.py          # rewrite deploy/prometheus/rules/slo-*.yml and tests/slo-*_test.yml
    python3 deploy/slo/slo.py --check  # exit 1 if a generated file differs (deploy/check.sh runs this)

Why: an objective is written once, in its service's file (schema: deploy/slo/README.md). Everything
that follows from it -- the error ratio per window, the error budget, the workbook's multiwindow,
multi-burn-rate alerts, their promtool tests, the SLO dashboard (deploy/grafana/generator/
error_budgets.py) -- is generated, so a target cannot disagree with the rules that enforce it.

Modules: objectives.py reads and checks the objective files and holds what rules, tests and dashboard
share (the burn-rate table, the alerts' texts); this file writes the rules; scenarios.py writes their
tests. Imports go one way: slo -> scenarios -> objectives.

The PromQL is written for Prometheus 3.13 (promtool, Compose and Kubernetes) and stays valid on 2.x:
the latency SLI matches the bucket's `le` the way both store it (3.x normalises `le="1"` to
`le="1.0"`), and no rule relies on a range selector holding exactly one sample (3.x's ranges are
left-open, (t-W, t]: a sample exactly at t-W is no longer in them). The promtool tests (scenarios.py)
expect 3.x's rate(). Bad objective files: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from decimal import Decimal
from pathlib import Path

from objectives import (HTTP, PAIRS, ROOT, WINDOWS, ObjectiveError, Slo, description, dump, load, num,
                        runbook_anchor, summary)
from scenarios import TESTS, tests_files

RULES = ROOT / "deploy/prometheus/rules"
# SLO rules are evaluated every 30s rather than at the global 5s: their shortest window is 5m, and
# the 3d windows read every raw sample of three days at each evaluation. The live stack test
# removes this interval so its 1s evaluation applies.
GROUP_INTERVAL = "30s"


# --- PromQL ------------------------------------------------------------------------------------------


def le_matcher(threshold: Decimal) -> str:
    """`le` as Prometheus stores the bucket: 3.x normalises it to a float (`0.25`, `1.0`), 2.x kept
    the text the exporter wrote (Rust's Display: `0.25`, `1`). One matcher for both."""
    value = float(threshold)
    exported = format(Decimal(repr(value)).normalize(), "f")
    normalised = f"{int(value)}.0" if value.is_integer() else repr(value)
    if exported == normalised:
        return f'le="{exported}"'
    return 'le=~"' + "|".join(re.escape(form).replace("\\", "\\\\") for form in (exported, normalised)) + '"'


def recording_rules(slo: Slo) -> list[dict]:
    """Requests/s, bad requests/s and their ratio per window; the ratio and remaining budget over
    the period; the objective and budget as series (for dashboards and joins).

    No traffic in a window (0/0) records an error ratio of 0: nothing failed, nothing burned. The
    period ratio sums the recorded 5m rates rather than reading 30 days of raw samples."""
    job, labels = f'job="{slo.service}"', {"slo": slo.kind}
    rules = []
    for w in WINDOWS:
        requests = f"slo:sli_requests:rate{w.name}"
        rules.append({"record": requests, "expr": f"sum by (job) (rate({HTTP}_count{{{job}}}[{w.name}]))",
                      "labels": labels})
        if slo.kind == "availability":
            errors = (f'sum by (job) (rate({HTTP}_count{{{job}, http_response_status_code=~"5.."}}[{w.name}]))\n'
                      f"  or on (job)\n"
                      f"0 * {requests}{{{slo.sel()}}}\n")
        else:
            errors = (f"clamp_min(\n"
                      f"  {requests}{{{slo.sel()}}}\n"
                      f"    - on (job)\n"
                      f"  sum by (job) (rate({HTTP}_bucket{{{job}, {le_matcher(slo.threshold)}}}[{w.name}])),\n"
                      f"  0\n"
                      f")\n")
        rules.append({"record": f"slo:sli_errors:rate{w.name}", "expr": errors, "labels": labels})
        rules.append({"record": f"slo:sli_error:ratio_rate{w.name}", "expr": ratio(
            f"slo:sli_errors:rate{w.name}{{{slo.sel()}}}", f"slo:sli_requests:rate{w.name}{{{slo.sel()}}}"),
            "labels": labels})
    period = slo.period.name
    rules.append({"record": f"slo:sli_error:ratio_rate{period}", "expr": ratio(
        f"sum_over_time(slo:sli_errors:rate5m{{{slo.sel()}}}[{period}])",
        f"sum_over_time(slo:sli_requests:rate5m{{{slo.sel()}}}[{period}])"), "labels": labels})
    rules.append({"record": "slo:objective:ratio", "expr": f"vector({num(slo.objective / 100)})",
                  "labels": {"job": slo.service, "slo": slo.kind}})
    rules.append({"record": "slo:error_budget:ratio", "expr": f"vector({num(slo.budget)})",
                  "labels": {"job": slo.service, "slo": slo.kind}})
    rules.append({"record": "slo:period_error_budget_remaining:ratio",
                  "expr": f"1 - slo:sli_error:ratio_rate{period}{{{slo.sel()}}} / {num(slo.budget)}", "labels": labels})
    return rules


def ratio(errors: str, requests: str) -> str:
    return f"{errors}\n  /\n({requests} > 0)\n  or\n0 * {requests}\n"


def alert_rules(slo: Slo) -> list[dict]:
    rules = []
    for pair in PAIRS:
        factor, budget = num(pair.factor(slo.period)), num(slo.budget)
        rules.append({
            "alert": slo.alert,
            "expr": (f"slo:sli_error:ratio_rate{pair.long.name}{{{slo.sel()}}} / {budget} > {factor}\n"
                     f"  and\n"
                     f"slo:sli_error:ratio_rate{pair.short.name}{{{slo.sel()}}} / {budget} > {factor}\n"),
            "labels": {"severity": pair.severity, "long_window": pair.long.name, "short_window": pair.short.name},
            "annotations": {"summary": summary(slo, pair), "description": description(slo, pair),
                            "runbook": runbook_anchor(slo, pair)},
        })
    return rules


# --- files -------------------------------------------------------------------------------------------

RULES_HEADER = """\
# GENERATED by deploy/slo/slo.py from deploy/slo/{service}.yml: do not edit; change the objective
# there and run `just slo`. Tests: deploy/prometheus/tests/slo-{service}*_test.yml (also generated).
#
{headlines}
#
# slo:sli_requests:rate<W>, slo:sli_errors:rate<W>: requests/s and bad requests/s over window W;
# slo:sli_error:ratio_rate<W>: their ratio (0 when there was no request: nothing burned);
# slo:sli_error:ratio_rate{period}: the ratio over the SLO period, from the recorded 5m rates;
# slo:period_error_budget_remaining:ratio: 1 = untouched, 0 = spent, below 0 = overspent.
# Alerts (SRE workbook, multiwindow multi-burn-rate): page when the ratio over 1h and 5m is above
# {f0}x the budget or over 6h and 30m above {f1}x; ticket over 1d and 2h above {f2}x or 3d and 6h above {f3}x.
"""


def rules_file(service: str, slos: list[Slo]) -> str:
    period = slos[0].period
    header = RULES_HEADER.format(
        service=service, period=period.name,
        headlines="\n".join(f"# {slo.kind}: {slo.headline()} (error budget {num(slo.budget * 100)}%)"
                            for slo in slos),
        **{f"f{i}": num(pair.factor(period)) for i, pair in enumerate(PAIRS)})
    rules = [rule for slo in slos for rule in recording_rules(slo)]
    rules += [rule for slo in slos for rule in alert_rules(slo)]
    return header + dump({"groups": [{"name": f"slo-{service}", "interval": GROUP_INTERVAL, "rules": rules}]})


def rules_path(service: str) -> Path:
    return RULES / f"slo-{service}.yml"


def render() -> dict[Path, str]:
    files = {}
    for service, slos in load().items():
        files[rules_path(service)] = rules_file(service, slos)
        files.update(tests_files(service, slos))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file differs")
    args = parser.parse_args()
    try:
        files = render()
    except ObjectiveError as error:
        print(f"slo: {error}", file=sys.stderr)
        return 2
    generated = set(RULES.glob("slo-*.yml")) | set(TESTS.glob("slo-*_test.yml"))
    orphans = sorted(generated - set(files))
    if args.check:
        stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date with deploy/slo/*.yml; run: just slo", file=sys.stderr)
        for path in orphans:
            print(f"{path.relative_to(ROOT)} has no objective file in deploy/slo; run: just slo", file=sys.stderr)
        return 1 if stale or orphans else 0
    for path, text in files.items():
        path.write_text(text)
    for path in orphans:  # a service whose objective file was removed
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
