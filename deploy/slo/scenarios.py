"""The promtool tests of the SLO rules: traffic scenarios and the alerts each must (not) raise.

Imported by slo.py, which writes deploy/prometheus/tests/slo-<service>_every<N>m_test.yml, one file per
evaluation interval: every minute for fast burns, healthy traffic and no traffic; every 5 minutes for a
blip after hours of history; every hour for burns over days (promtool evaluates every rule at
every step, so the interval is as coarse as each scenario allows).

Why generated: when a burn alert fires follows from the objective, so hand-written expectations would
have to be redone for every change of a target, and the objective files would stop being the only
place a target is written.

Why they still catch a wrong generator: the expectations do not come from the PromQL. The model
below computes every window's error ratio from the traffic alone -- the way Prometheus 2.42's rate()
does for these inputs (counters starting at 0, one sample a minute: the increase over the window's
minutes, or since the start when the window reaches back further) -- and decides each alert from the
workbook table. The tests assert the alerts at the evaluations just before and just after every
change of state (concrete times), and the recorded ratios and budget at chosen moments. A wrong
window, factor, selector, `and`/`or`, `le` matcher or 0/0 handling moves an edge or a value and
`promtool test rules` fails. Each scenario also states its intent ("a slow burn tickets and never
pages"), checked against the model before anything is written, so an objective that would make a
scenario pointless fails the generator rather than producing a test that proves nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Callable

from slo import HTTP, PAIRS, TESTS, ObjectiveError, Slo, description, dump, http_buckets, num, runbook_anchor, summary

RATE = 6000  # requests per minute (100/s) in every scenario
EPS = Fraction(1, 10**6)  # a ratio this close to its threshold is too close to call: not asserted there
PAGE_1H, PAGE_6H, TICKET_1D, TICKET_3D = range(4)  # indices into PAIRS


@dataclass
class Segment:
    """`minutes` of traffic: RATE requests a minute (or `requests`), of which a share is bad per SLO
    kind (availability: answered 500; latency: answered 200 but slower than the threshold), and a
    share answered 404 (neither: 4xx are the client's fault, and they are fast)."""

    minutes: int
    bad: dict[str, Fraction] = field(default_factory=dict)
    requests: int = RATE
    not_found: Fraction = Fraction(0)


@dataclass
class Scenario:
    name: str
    segments: list[Segment]
    every: int  # evaluation interval in minutes (the test file's)
    intents: list[tuple[str, Callable[[Model], bool]]]
    values_at: list[int]  # minutes at which the recorded series are asserted


# --- the model -----------------------------------------------------------------------------------


class Model:
    """Error ratios and alert decisions of one scenario, per evaluation (every `every` minutes)."""

    def __init__(self, slos: list[Slo], scenario: Scenario):
        self.slos = {slo.kind: slo for slo in slos}
        self.scenario = scenario
        self.minutes = [seg for seg in scenario.segments for _ in range(seg.minutes)]
        self.end = len(self.minutes)
        self.grid = list(range(0, self.end + 1, scenario.every))
        # Every per-minute count an integer: promtool adds up `a+bxn` in floats, and 0.1 + 0.1 + ...
        # drifting above the next segment's start would read as a counter reset and double a rate.
        self.scale = math.lcm(*(part.denominator for seg in scenario.segments
                                for part in (seg.requests * seg.not_found, seg.requests * seg.bad.get("latency", Fraction(0)),
                                             seg.requests * seg.bad.get("availability", Fraction(0)) / 2)))
        self.requests = self._prefix(lambda seg: Fraction(seg.requests * self.scale))
        self.bad = {kind: self._prefix(lambda seg, k=kind: seg.requests * self.scale * seg.bad.get(k, Fraction(0)))
                    for kind in self.slos}
        for seg in scenario.segments:
            assert sum(seg.bad.values(), seg.not_found) <= 1, f"{scenario.name}: more than 100% of requests"
            assert all(isinstance(x, (int, Fraction)) for x in (seg.requests, seg.not_found, *seg.bad.values()))
        self.decisions = {(kind, i): [self.decide(kind, i, t) for t in self.grid]
                          for kind in self.slos for i in range(len(PAIRS))}

    def _prefix(self, per_minute) -> list[Fraction]:
        sums = [Fraction(0)]
        for seg in self.minutes:
            sums.append(sums[-1] + per_minute(seg))
        return sums

    @staticmethod
    def _window(prefix: list[Fraction], t: int, minutes: int) -> Fraction:
        return prefix[t] - prefix[max(0, t - minutes)]

    def request_rate(self, t: int, minutes: int) -> Fraction:
        """Requests per second over the window, as slo:sli_requests:rate<W> records it."""
        return self._window(self.requests, t, minutes) / (minutes * 60)

    def ratio(self, kind: str, t: int, minutes: int) -> Fraction:
        requests = self._window(self.requests, t, minutes)
        return self._window(self.bad[kind], t, minutes) / requests if requests else Fraction(0)

    def period_ratio(self, kind: str, t: int) -> Fraction:
        """sum_over_time of the recorded 5m rates (one sample per evaluation since the first)."""
        period = self.slos[kind].period.minutes
        steps = [s for s in self.grid if 0 < s <= t and s >= t - period]
        bad = sum((self._window(self.bad[kind], s, 5) for s in steps), Fraction(0))
        requests = sum((self._window(self.requests, s, 5) for s in steps), Fraction(0))
        return bad / requests if requests else Fraction(0)

    def burn(self, kind: str, t: int, minutes: int) -> Fraction:
        return self.ratio(kind, t, minutes) / Fraction(self.slos[kind].budget)

    def decide(self, kind: str, index: int, t: int) -> bool | None:
        """Does the alert of PAIRS[index] fire at minute t? None when a ratio is too close to call."""
        if t == 0:
            return False  # one sample: no rate, no recorded series, no alert
        pair = PAIRS[index]
        factor = Fraction(pair.factor(self.slos[kind].period))
        above = []
        for w in (pair.long, pair.short):
            burn = self.burn(kind, t, w.minutes)
            if burn > factor * (1 + EPS):
                above.append(True)
            elif burn < factor * (1 - EPS):
                return False
            else:
                above.append(None)
        return True if all(above) else None

    def at(self, t: int) -> dict:
        return {key: decisions[self.grid.index(t)] for key, decisions in self.decisions.items()}

    def clear(self, t: int) -> bool:
        """Every decision is certain and every firing alert's summary value is not on a rounding edge."""
        for (kind, index), firing in self.at(t).items():
            if firing is None:
                return False
            if firing:
                tenths = self.burn(kind, t, PAIRS[index].long.minutes) * 10
                if abs(tenths - math.floor(tenths) - Fraction(1, 2)) < EPS:
                    return False
        return True

    # Intent helpers ---------------------------------------------------------------------------

    def ever(self, kind: str, index: int, start: int = 0, end: int | None = None) -> bool:
        end = self.end if end is None else end
        return any(d is True for t, d in zip(self.grid, self.decisions[(kind, index)]) if start <= t <= end)

    def never(self, kind: str, indices=range(len(PAIRS))) -> bool:
        return all(d is False for index in indices for d in self.decisions[(kind, index)])

    def first(self, kind: str, index: int) -> int | None:
        return next((t for t, d in zip(self.grid, self.decisions[(kind, index)]) if d is True), None)

    def quiet(self, start: int, kinds=None) -> bool:
        return all(d is False for (kind, _), decisions in self.decisions.items() if kinds is None or kind in kinds
                   for t, d in zip(self.grid, decisions) if t >= start)

    def closeness(self, kind: str, index: int, t: int) -> Fraction:
        """How near the alert is to firing: the smaller of its two burn rates over the factor."""
        pair = PAIRS[index]
        factor = Fraction(pair.factor(self.slos[kind].period))
        return min(self.burn(kind, t, w.minutes) for w in (pair.long, pair.short)) / factor

    def short_burn_above(self, kind: str, index: int) -> bool:
        """The short window alone would have fired: only the long window keeps the alert quiet."""
        pair = PAIRS[index]
        factor = Fraction(pair.factor(self.slos[kind].period))
        return any(self.burn(kind, t, pair.short.minutes) > factor * (1 + EPS) for t in self.grid if t)


# --- scenarios ----------------------------------------------------------------------------------------


def detection_minutes(slo: Slo) -> int:
    """Minutes of total failure after which the 1h/5m page fires: the workbook's detection time
    (factor x budget x 1h), rounded up to the next whole minute (a sample a minute)."""
    pair = PAIRS[PAGE_1H]
    return math.floor(Fraction(pair.factor(slo.period)) * Fraction(slo.budget) * pair.long.minutes) + 1


def scenarios(slos: list[Slo]) -> list[Scenario]:
    kinds = {slo.kind: slo for slo in slos}
    budget = {kind: Fraction(slo.budget) for kind, slo in kinds.items()}

    def burning(multiple: int) -> dict[str, Fraction]:
        return {kind: multiple * b for kind, b in budget.items()}

    half = {kind: b / 2 for kind, b in budget.items()}
    result = [
        Scenario(
            "healthy: 0.5x the budget of every SLO and 5% 404s for 1h fire nothing",
            [Segment(60, half, not_found=Fraction(1, 20))], 1,
            [("nothing fires", lambda m: all(m.never(kind) for kind in kinds))],
            [60]),
        Scenario(
            "no traffic: 30m at 0.5x the budget, then 70m without a request: ratios 0 (not NaN), nothing fires",
            [Segment(30, half), Segment(70, requests=0)], 1,
            [("nothing fires", lambda m: all(m.never(kind) for kind in kinds))],
            [100]),
    ]

    # A fast burn: every request bad for D minutes after 1h of clean traffic, then 40m of recovery.
    # (The tickets it raises resolve later; the 8x scenario below follows tickets to the end.)
    for kind, slo in kinds.items():
        detect = detection_minutes(slo)
        outage = max(20, 2 * detect)
        start, recovered = 60, 60 + outage
        others = [k for k in kinds if k != kind]
        result.append(Scenario(
            f"{kind} fast burn: every request bad for {outage}m pages within {detect}m (above "
            f"{num(PAIRS[PAGE_1H].factor(slo.period))}x over 1h and 5m); the 1h/5m page resolves 5m after "
            f"recovery, the 6h/30m one 30m after",
            [Segment(start), Segment(outage, {kind: Fraction(1)}), Segment(40)], 1,
            [(f"the 1h/5m page fires within {detect}m",
              lambda m, k=kind, s=start, d=detect: m.first(k, PAGE_1H) is not None and m.first(k, PAGE_1H) <= s + d),
             ("the 1h/5m page resolves 5m after recovery",
              lambda m, k=kind, r=recovered: not m.ever(k, PAGE_1H, r + 5)),
             ("the 6h/30m page fires, and resolves 30m after recovery",
              lambda m, k=kind, r=recovered: m.ever(k, PAGE_6H) and not m.ever(k, PAGE_6H, r + 30)),
             ("the other SLOs stay quiet", lambda m, o=others: all(m.never(k) for k in o))],
            [start + outage // 2, recovered + 10]))

    # A blip: half the bad requests the 1h page needs, as fast as possible after 8h of clean traffic
    # (the ticket windows need that much history to dilute it). The 5m window is far above the
    # page's threshold; only the long window keeps the page quiet, as the workbook intends.
    segments, cursor, starts = [Segment(480)], 480, {}
    for kind, slo in kinds.items():
        pair = PAIRS[PAGE_1H]
        bad = Fraction(pair.factor(slo.period)) * budget[kind] * pair.long.minutes * RATE / 2
        minutes = math.ceil(bad / RATE / Fraction(9, 10))
        segments += [Segment(minutes, {kind: bad / minutes / RATE}), Segment(60)]
        starts[kind] = cursor
        cursor += minutes + 60
    result.append(Scenario(
        "a short blip (half the bad requests the 1h page needs, within minutes) fires nothing",
        segments, 5,
        [("nothing fires", lambda m: all(m.never(kind) for kind in kinds))]
        + [(f"{kind}: the 5m window alone would page", lambda m, k=kind: m.short_burn_above(k, PAGE_1H))
           for kind in kinds],
        [starts[kind] + 5 for kind in kinds]))

    history = 3 * 1440  # the longest window full of clean traffic before the burn
    result.append(Scenario(
        "slow burn: 2x the budget after 3d of clean traffic tickets via 3d/6h after 36h, never pages",
        [Segment(history), Segment(40 * 60, burning(2))], 60,
        [(f"{kind}: tickets via 3d/6h", lambda m, k=kind: m.ever(k, TICKET_3D)) for kind in kinds]
        + [(f"{kind}: never pages, never tickets via 1d/2h (2x is below their factors)",
            lambda m, k=kind: m.never(k, (PAGE_1H, PAGE_6H, TICKET_1D))) for kind in kinds],
        [history + 24 * 60]))
    result.append(Scenario(
        "8x the budget for 12h after 3d of clean traffic: pages via 6h/30m (not 1h/5m), tickets, "
        "and everything resolves within 6h of recovery",
        [Segment(history), Segment(12 * 60, burning(8)), Segment(6 * 60)], 60,
        [(f"{kind}: pages via 6h/30m and tickets via both pairs",
          lambda m, k=kind: m.ever(k, PAGE_6H) and m.ever(k, TICKET_1D) and m.ever(k, TICKET_3D)) for kind in kinds]
        + [(f"{kind}: never pages via 1h/5m (8x is below its factor)", lambda m, k=kind: m.never(k, (PAGE_1H,)))
           for kind in kinds]
        + [("every alert has resolved at the end", lambda m: m.quiet(m.end))],
        [history + 6 * 60]))
    return result


# --- promtool test files ------------------------------------------------------------------------------


def duration(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    return text or "0m"


def value(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    exact = Decimal(x.numerator) / Decimal(x.denominator)
    return num(exact) if Fraction(exact) == x else repr(float(x))


def values(increments: list[Fraction]) -> str:
    """A counter from 0 with the given per-minute increments, in promtool's `a+bxn` notation."""
    runs: list[list] = []
    for inc in increments:
        if runs and runs[-1][0] == inc:
            runs[-1][1] += 1
        else:
            runs.append([inc, 1])
    parts, total = [], Fraction(0)
    for index, (inc, count) in enumerate(runs):
        if index == 0:
            parts.append(f"0+{value(inc)}x{count}")
        else:
            parts.append(f"{value(total + inc)}+{value(inc)}x{count - 1}")
        total += inc * count
    return " ".join(parts) if parts else "0"


def exported_le(bound: Decimal) -> str:
    """A bucket bound as the services write it (Rust's Display), which is how 2.42 stores it."""
    return format(Decimal(repr(float(bound))).normalize(), "f")


def input_series(service: str, slos: list[Slo], model: Model) -> list[dict]:
    latency = next((slo for slo in slos if slo.kind == "latency"), None)
    # 5xx split between 500 and 503 (redis-counter's answer while Redis is down): every 5xx counts.
    per_status = {"200": [], "404": [], "500": [], "503": []}
    fast_200 = []
    for seg in model.minutes:
        total = Fraction(seg.requests * model.scale)
        errors = total * seg.bad.get("availability", 0)
        slow = total * seg.bad.get("latency", 0)
        not_found = total * seg.not_found
        ok = total - errors - not_found
        per_status["200"].append(ok)
        per_status["404"].append(not_found)
        per_status["500"].append(errors / 2)
        per_status["503"].append(errors / 2)
        fast_200.append(ok - slow)
    series = []
    for status, increments in per_status.items():
        route = "unmatched" if status == "404" else "/"
        labels = (f'job="{service}", http_request_method="GET", http_route="{route}", '
                  f'http_response_status_code="{status}"')
        series.append({"series": f"{HTTP}_count{{{labels}}}", "values": values(increments)})
        if latency is None:
            continue
        # A bucket below the threshold, the threshold's, one above, +Inf: slow requests (200s only)
        # land between the threshold and the next bound, so a wrong `le` gives a wrong ratio.
        buckets = http_buckets()
        index = buckets.index(latency.threshold)
        bounds = buckets[max(0, index - 1):index + 2]
        for bound in bounds:
            below_threshold = status == "200" and bound <= latency.threshold  # excludes the slow 200s
            counts = fast_200 if below_threshold else increments
            series.append({"series": f'{HTTP}_bucket{{{labels}, le="{exported_le(bound)}"}}', "values": values(counts)})
        series.append({"series": f'{HTTP}_bucket{{{labels}, le="+Inf"}}', "values": values(increments)})
    return series


def alert_tests(service: str, slos: list[Slo], model: Model, t: int) -> list[dict]:
    decisions = model.at(t)
    tests = []
    for slo in slos:
        expected = []
        for index, pair in enumerate(PAIRS):
            if decisions[(slo.kind, index)]:
                burn = float(model.burn(slo.kind, t, pair.long.minutes))
                expected.append({
                    "exp_labels": {"severity": pair.severity, "long_window": pair.long.name,
                                   "short_window": pair.short.name, "job": service, "slo": slo.kind},
                    "exp_annotations": {"summary": summary(slo, pair, burn), "description": description(slo, pair),
                                        "runbook": runbook_anchor(slo, pair)},
                })
        tests.append({"alertname": slo.alert, "eval_time": duration(t), "exp_alerts": expected})
    return tests


def checkpoints(model: Model) -> list[int]:
    """The first and last evaluations, the ones just before and after each change of state, and per
    alert its closest call: the quiet evaluation where it came nearest to firing (if within 2x)."""
    clear = [t for t in model.grid if t and model.clear(t)]
    points = {clear[0], clear[-1]}
    for before, after in zip(clear, clear[1:]):
        if model.at(before) != model.at(after):
            points.update((before, after))
    for kind, index in model.decisions:
        quiet = [(model.closeness(kind, index, t), t) for t in clear if model.at(t)[(kind, index)] is False]
        if quiet and max(quiet)[0] >= Fraction(1, 2):
            points.add(max(quiet)[1])
    return sorted(points)


def value_tests(service: str, slos: list[Slo], model: Model, t: int) -> list[dict]:
    """The recorded series at minute t, within 1e-9 of the model (promtool compares floats exactly)."""
    tests = []
    for slo in slos:
        sel = slo.sel()
        expected = {
            f"slo:sli_requests:rate5m{{{sel}}}": model.request_rate(t, 5),
            f"slo:sli_error:ratio_rate5m{{{sel}}}": model.ratio(slo.kind, t, 5),
            f"slo:sli_error:ratio_rate1h{{{sel}}}": model.ratio(slo.kind, t, 60),
            f"slo:sli_error:ratio_rate3d{{{sel}}}": model.ratio(slo.kind, t, 4320),
            f"slo:sli_error:ratio_rate{slo.period.name}{{{sel}}}": model.period_ratio(slo.kind, t),
            f"slo:period_error_budget_remaining:ratio{{{sel}}}":
                1 - model.period_ratio(slo.kind, t) / Fraction(slo.budget),
            f"slo:objective:ratio{{{sel}}}": Fraction(slo.objective / 100),
        }
        for expr, want in expected.items():
            tests.append({"expr": f"abs({expr} - {repr(float(want))}) < bool 1e-9", "eval_time": duration(t),
                          "exp_samples": [{"labels": f'{{job="{service}", slo="{slo.kind}"}}', "value": 1}]})
    return tests


HEADER = """\
# GENERATED by deploy/slo/slo.py (deploy/slo/scenarios.py) from deploy/slo/{service}.yml: do not edit.
# promtool test rules: each scenario's traffic, the burn-rate alerts at the evaluations just before and
# after every change of state, and the recorded ratios and budget. Expectations come from the model
# in deploy/slo/scenarios.py, not from the rules: see its docstring.
"""


def tests_files(service: str, slos: list[Slo]) -> dict[Path, str]:
    files: dict[int, list[dict]] = {}
    for scenario in scenarios(slos):
        model = Model(slos, scenario)
        failed = [intent for intent, holds in scenario.intents if not holds(model)]
        if failed:
            raise ObjectiveError(f"deploy/slo/{service}.yml: scenario {scenario.name!r} no longer holds: "
                                 f"{'; '.join(failed)} (an objective too loose or too tight for the workbook's table?)")
        group = {
            "name": f"{service}: {scenario.name}",
            "interval": "1m",
            "input_series": input_series(service, slos, model),
            "alert_rule_test": [test for t in checkpoints(model) for test in alert_tests(service, slos, model, t)],
            # Recorded values at an evaluation (between two, promtool would read the earlier one).
            "promql_expr_test": [test for t in scenario.values_at
                                 for test in value_tests(service, slos, model, -(-t // scenario.every) * scenario.every)],
        }
        files.setdefault(scenario.every, []).append(group)
    result = {}
    for every, groups in sorted(files.items()):
        suffix = f"_every{every}m"
        document = {"rule_files": [f"../rules/slo-{service}.yml"], "evaluation_interval": f"{every}m", "tests": groups}
        result[TESTS / f"slo-{service}{suffix}_test.yml"] = HEADER.format(service=service) + dump(document)
    return result
