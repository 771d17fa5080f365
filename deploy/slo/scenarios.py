"""The promtool tests of the SLO rules: traffic scenarios and the alerts each must (not) raise.

Imported by slo.py, which writes deploy/prometheus/tests/slo-<service>_every<N>m_test.yml, one file per
evaluation interval: every minute for fast burns, healthy traffic and no traffic; every 5 minutes for a
blip after hours of history; every hour for burns over days (promtool evaluates every rule at
every step, so the interval is as coarse as each scenario allows).

Why generated: when a burn alert fires follows from the objective, so hand-written expectations would
have to be redone for every change of a target, and the objective files would stop being the only
place a target is written.

Why they still catch a wrong generator: the expectations do not come from the PromQL. The model
below computes every window's error ratio from the traffic alone and decides each alert from the
workbook table. It computes rate() the way Prometheus 3.13 (promtool here and the Prometheus of
Compose and Kubernetes) does, because that is what the rules get and it is not the plain increase
over the window: ranges are left-open, (t-W, t], so a window of W minutes holds W samples (one a
minute) spanning W-1 minutes, and rate() extrapolates each series' increase to the window's ends
with a factor of its own -- a series that was still 0 at the window's first sample (the errors of a
burn that began inside the window) is not extrapolated back past its zero point, while the steady
requests are -- so the model takes the rate of every input series as input_series() writes it (each
status code's `_count`, the threshold's bucket) and combines them as the SLIs are defined: 5xx over
all requests, all requests less the fast ones. sum_over_time (the period's ratio) is left-open
too. The tests assert the alerts at the evaluations just before and just after every
change of state (concrete times), and the recorded ratios and budget at chosen moments. A wrong
window, factor, selector, `and`/`or`, `le` matcher or 0/0 handling moves an edge or a value and
`promtool test rules` fails. Each scenario also states its intent ("a slow burn tickets and never
pages"), checked against the model before anything is written, so an objective that would make a
scenario pointless fails the generator rather than producing a test that proves nothing.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Callable

from objectives import (HTTP, PAIRS, ROOT, ObjectiveError, Slo, description, dump, http_buckets, num,
                        runbook_anchor, summary)

TESTS = ROOT / "deploy/prometheus/tests"

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


def whole(count: Fraction) -> int:
    assert count.denominator == 1, f"{count} requests in a minute: not a whole number"
    return int(count)


@dataclass
class Series:
    """One input series as input_series() writes it: a counter from 0 at minute 0, one sample a
    minute. `le` is the bucket's bound (None: the `_count`, or `+Inf` when `bucket`)."""

    status: str
    increments: list[int]
    bucket: bool = False
    le: Decimal | None = None
    values: list[int] = field(init=False)  # the counter at minute 0, 1, ..., end

    def __post_init__(self):
        assert all(type(inc) is int and inc >= 0 for inc in self.increments), \
            "every per-minute count a whole number (promtool adds them up in floats), and never negative"
        self.values = list(itertools.accumulate(self.increments, initial=0))


class Model:
    """Error ratios and alert decisions of one scenario, per evaluation (every `every` minutes)."""

    def __init__(self, slos: list[Slo], scenario: Scenario):
        self.slos = {slo.kind: slo for slo in slos}
        self.scenario = scenario
        self.minutes = [seg for seg in scenario.segments for _ in range(seg.minutes)]
        self.end = len(self.minutes)
        self.grid = list(range(0, self.end + 1, scenario.every))
        for seg in scenario.segments:
            assert sum(seg.bad.values(), seg.not_found) <= 1, f"{scenario.name}: more than 100% of requests"
            assert all(isinstance(x, (int, Fraction)) for x in (seg.requests, seg.not_found, *seg.bad.values()))
        # Every per-minute count an integer: promtool adds up `a+bxn` in floats, and 0.1 + 0.1 + ...
        # drifting above the next segment's start would read as a counter reset and double a rate.
        self.scale = math.lcm(*(part.denominator for seg in scenario.segments
                                for part in (seg.requests * seg.not_found, seg.requests * seg.bad.get("latency", Fraction(0)),
                                             seg.requests * seg.bad.get("availability", Fraction(0)) / 2)))
        self.series = self._series()
        self._rates: dict[tuple[int, int], dict[str, Fraction | None]] = {}
        self.decisions = {(kind, i): [self.decide(kind, i, t) for t in self.grid]
                          for kind in self.slos for i in range(len(PAIRS))}

    def _series(self) -> list[Series]:
        """The traffic as the services would export it: `_count` per status code (5xx split between
        500 and 503, redis-counter's answer while Redis is down) and, with a latency SLO, buckets
        around its threshold, where slow requests (200s only) land above the threshold's bound."""
        per_status: dict[str, list[int]] = {"200": [], "404": [], "500": [], "503": []}
        fast_200 = []
        for seg in self.scenario.segments:
            total = Fraction(seg.requests * self.scale)
            errors = total * seg.bad.get("availability", 0)
            slow = total * seg.bad.get("latency", 0)
            not_found = total * seg.not_found
            ok = total - errors - not_found
            for status, count in (("200", ok), ("404", not_found), ("500", errors / 2), ("503", errors / 2)):
                per_status[status] += [whole(count)] * seg.minutes
            fast_200 += [whole(ok - slow)] * seg.minutes
        latency = self.slos.get("latency")
        series = []
        for status, increments in per_status.items():
            series.append(Series(status, increments))
            if latency is None:
                continue
            # A bucket below the threshold, the threshold's, one above, +Inf: a wrong `le` gives a wrong ratio.
            buckets = http_buckets()
            index = buckets.index(latency.threshold)
            for bound in [*buckets[max(0, index - 1):index + 2], None]:
                below_threshold = status == "200" and bound is not None and bound <= latency.threshold
                series.append(Series(status, fast_200 if below_threshold else increments, bucket=True, le=bound))
        return series

    def rate(self, series: Series, t: int, minutes: int) -> Fraction | None:
        """rate(series[W]) at minute t as Prometheus 3.13 computes it (promql/functions.go,
        extrapolatedRate), or None where it gives no result. The range is left-open, (t-W, t]: the
        sample at t-W is not in it, so a full window holds W samples over W-1 minutes. The increase
        between its first and last sample is extrapolated to the range's ends: all the way to an end
        within 1.1 average intervals (one minute here) of a sample, else half an interval (the
        series starts within the range); towards the start never further than where the counter
        would have been 0 (sampled interval x first value / increase)."""
        first, last = max(0, t - minutes + 1), min(t, self.end)
        intervals = last - first
        if intervals < 1:
            return None  # fewer than two samples: no rate
        values = series.values
        increase = values[last] - values[first]  # the counters never go down: no resets
        sampled = intervals * 60  # seconds, as are the durations below
        to_start, to_end = (first - (t - minutes)) * 60, (t - last) * 60
        # "close enough" to an end: under 1.1 x the average interval (sampled / intervals)
        if to_start * intervals * 10 >= sampled * 11:
            to_start = Fraction(sampled, 2 * intervals)
        if increase > 0 and values[first] >= 0 and sampled * values[first] < to_start * increase:
            to_start = Fraction(sampled * values[first], increase)  # where the counter was 0
        if to_end * intervals * 10 >= sampled * 11:
            to_end = Fraction(sampled, 2 * intervals)
        return Fraction(increase * (sampled + to_start + to_end), sampled * minutes * 60)

    @staticmethod
    def _sum(rates) -> Fraction | None:
        """sum(...) of per-series rates: no result if no series has one."""
        rates = [r for r in rates if r is not None]
        return sum(rates, Fraction(0)) if rates else None

    def rates(self, t: int, minutes: int) -> dict[str, Fraction | None]:
        """Requests/s and bad requests/s per SLO kind over the window: each input series' rate,
        then combined. Availability: the 5xx `_count`s. Latency: every `_count` less the bucket
        of the threshold (slow, or not counted there), never below 0."""
        key = (t, minutes)
        if key not in self._rates:
            counts = [s for s in self.series if not s.bucket]
            requests = self._sum(self.rate(s, t, minutes) for s in counts)
            result: dict[str, Fraction | None] = {"requests": requests}
            for kind, slo in self.slos.items():
                if kind == "availability":  # no 5xx series at all: 0 errors
                    bad = self._sum(self.rate(s, t, minutes) for s in counts if s.status.startswith("5"))
                    bad = Fraction(0) if bad is None and requests is not None else bad
                else:
                    fast = self._sum(self.rate(s, t, minutes) for s in self.series
                                     if s.bucket and s.le == slo.threshold)
                    bad = None if requests is None or fast is None else max(requests - fast, Fraction(0))
                result[kind] = bad
            self._rates[key] = result
        return self._rates[key]

    def request_rate(self, t: int, minutes: int) -> Fraction:
        """Requests per second over the window, as slo:sli_requests:rate<W> records it."""
        return self.rates(t, minutes)["requests"]

    def ratio(self, kind: str, t: int, minutes: int) -> Fraction:
        """slo:sli_error:ratio_rate<W>: bad over all requests, 0 without a request."""
        rates = self.rates(t, minutes)
        return rates[kind] / rates["requests"] if rates["requests"] else Fraction(0)

    def period_ratio(self, kind: str, t: int) -> Fraction:
        """sum_over_time of the recorded 5m rates over the left-open period (t - period, t]: one
        sample per evaluation that recorded one (not minute 0, where no rate exists)."""
        period = self.slos[kind].period.minutes
        steps = [s for s in self.grid if t - period < s <= t and self.rates(s, 5)["requests"] is not None]
        bad = sum((self.rates(s, 5)[kind] for s in steps), Fraction(0))
        requests = sum((self.rates(s, 5)["requests"] for s in steps), Fraction(0))
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
    (factor x budget x 1h), rounded up to the next whole minute (a sample a minute). Prometheus 3's
    extrapolation puts the 1h ratio after k bad minutes between k/60 and k/59, never below, so the
    page fires no later than this (the fast-burn scenarios check it)."""
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
    # Each blip starts a minute after an evaluation (every 5m): the left-open 5m range of the next
    # evaluation holds the samples of its last 4 minutes only, so a blip in the minute right after
    # an evaluation would fall between two windows and no 5m rate here would see it.
    every = 5
    segments, cursor, starts = [Segment(8 * 60 + 1)], 8 * 60 + 1, {}
    for kind, slo in kinds.items():
        pair = PAIRS[PAGE_1H]
        bad = Fraction(pair.factor(slo.period)) * budget[kind] * pair.long.minutes * RATE / 2
        minutes = math.ceil(bad / RATE / Fraction(9, 10))
        quiet = 60 + (1 - (cursor + minutes + 60)) % every
        segments += [Segment(minutes, {kind: bad / minutes / RATE}), Segment(quiet)]
        starts[kind] = cursor
        cursor += minutes + quiet
    result.append(Scenario(
        "a short blip (half the bad requests the 1h page needs, within minutes) fires nothing",
        segments, every,
        [("nothing fires", lambda m: all(m.never(kind) for kind in kinds))]
        + [(f"{kind}: the 5m window alone would page", lambda m, k=kind: m.short_burn_above(k, PAGE_1H))
           for kind in kinds],
        [starts[kind] - 1 + every for kind in kinds]))

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


def values(increments: list[int]) -> str:
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
    """A bucket bound as the services write it (Rust's Display). Prometheus 3 stores a scraped
    classic histogram's `le` normalised (`1` becomes `1.0`); the rules' matcher accepts both forms,
    and for a bound that is not a whole number (every threshold so far) they are the same text."""
    return format(Decimal(repr(float(bound))).normalize(), "f")


def input_series(service: str, model: Model) -> list[dict]:
    """The model's series, labelled as the services export them."""
    result = []
    for series in model.series:
        route = "unmatched" if series.status == "404" else "/"
        labels = (f'job="{service}", http_request_method="GET", http_route="{route}", '
                  f'http_response_status_code="{series.status}"')
        if series.bucket:
            le = "+Inf" if series.le is None else exported_le(series.le)
            name = f'{HTTP}_bucket{{{labels}, le="{le}"}}'
        else:
            name = f"{HTTP}_count{{{labels}}}"
        result.append({"series": name, "values": values(series.increments)})
    return result


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
            "input_series": input_series(service, model),
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
