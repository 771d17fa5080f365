"""The service level objectives of deploy/slo/*.yml, read and validated, and what follows from them
alone: the workbook's burn-rate table, the numbers and the words of every alert.

Shared by slo.py (the rules and alerts), scenarios.py (their promtool tests, which must expect the
alerts' exact texts) and deploy/grafana/generator/error_budgets.py (the SLO dashboard). It imports none
of them: slo.py imports scenarios.py, and both import this module, so the objective types are one set of
classes (an ObjectiveError raised while writing the tests is the one slo.py reports as exit status 2).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from fractions import Fraction
from pathlib import Path

try:
    import yaml
except ImportError:  # the venv of deploy/check.sh has it
    print("deploy/slo needs PyYAML: python3 -m venv .venv && .venv/bin/pip install pyyaml", file=sys.stderr)
    sys.exit(2)

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy/slo"
# The bucket bounds, written once for the Rust constant (crates/telemetry/build.rs) and for this module.
BUCKETS_FILE = ROOT / "crates/telemetry/http_duration_buckets.txt"
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
COMPOSE = ROOT / "docker-compose.yml"

HTTP = "http_server_request_duration_seconds"
KINDS = ("availability", "latency")


class ObjectiveError(Exception):
    """A problem with an objective file: reported as one line, exit status 2."""


@dataclass(frozen=True)
class Window:
    name: str  # Prometheus duration: 5m, 1h, 3d
    minutes: int


def window(text: str) -> Window:
    match = re.fullmatch(r"([1-9][0-9]*)([mhd])", str(text))
    if not match:
        raise ObjectiveError(f"{text!r} is not a duration like 5m, 6h or 30d")
    return Window(text, int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)])


# The SRE workbook's windows ("Alerting on SLOs"): every window an alert pair uses.
WINDOWS = [window(w) for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")]


@dataclass(frozen=True)
class BurnPair:
    """One row of the workbook's multiwindow, multi-burn-rate table: alert when the error ratio over
    both windows is above `factor` x the error budget. The factor is derived, not written down: the
    share of the period's budget the long window may consume, times the periods per long window
    (2% of 30d in 1h: 0.02 x 720 = 14.4). The short window (1/12 of the long one) makes the alert
    stop soon after the burn does."""

    severity: str
    long: Window
    short: Window
    budget_share: Decimal

    def factor(self, period: Window) -> Decimal:
        """Rounded to 4 decimals (a 28d period gives 0.9333): the rules, tests and texts share it."""
        return (self.budget_share * period.minutes / self.long.minutes).quantize(Decimal("0.0001")).normalize()


PAIRS = [
    BurnPair("page", window("1h"), window("5m"), Decimal("0.02")),
    BurnPair("page", window("6h"), window("30m"), Decimal("0.05")),
    BurnPair("ticket", window("1d"), window("2h"), Decimal("0.10")),
    BurnPair("ticket", window("3d"), window("6h"), Decimal("0.10")),
]
# The workbook's factors for a 30-day period; a change to PAIRS that breaks them fails every run.
if [p.factor(window("30d")) for p in PAIRS] != [Decimal("14.4"), 6, 3, 1]:
    raise AssertionError("deploy/slo/objectives.py: PAIRS no longer give the workbook's 14.4, 6, 3, 1 for 30d")


def num(value: Decimal | Fraction) -> str:
    """A number as PromQL and YAML readers expect it: 0.001, 14.4, 3 (never 1E+1 or 3.0)."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Slo:
    service: str  # the Prometheus job
    kind: str  # availability | latency
    objective: Decimal  # percent of good requests
    period: Window
    description: str
    threshold: Decimal | None = None  # latency: seconds

    @property
    def budget(self) -> Decimal:
        """The error budget as a ratio: 99.9% -> 0.001."""
        return (Decimal(100) - self.objective) / Decimal(100)

    @property
    def alert(self) -> str:
        return f"{self.kind.capitalize()}ErrorBudgetBurn"

    def sel(self) -> str:
        """Label matchers of this SLO's recorded series."""
        return f'job="{self.service}", slo="{self.kind}"'

    def good_means(self) -> str:
        if self.kind == "availability":
            return "answered without a 5xx"
        return f"answered within {num(self.threshold * 1000)} ms"

    def headline(self) -> str:
        return f"{num(self.objective)}% of requests {self.good_means()} over {self.period.name}"


# --- objective files -------------------------------------------------------------------------------


def http_buckets() -> list[Decimal]:
    """The request-duration buckets every service exports: crates/telemetry/http_duration_buckets.txt,
    the file the telemetry crate's build script turns into HTTP_DURATION_BUCKETS, so a latency
    threshold that is not a bucket boundary -- and would silently match no series -- is refused."""
    name = BUCKETS_FILE.relative_to(ROOT)
    bounds = []
    for number, line in enumerate(BUCKETS_FILE.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            bound = Decimal(text)
        except ArithmeticError:
            raise ObjectiveError(f"{name}:{number}: {text!r} is not a number of seconds") from None
        if not bound.is_finite() or bound <= 0 or (bounds and bound <= bounds[-1]):
            raise ObjectiveError(f"{name}:{number}: {text!r}: bounds must be positive and ascending")
        bounds.append(bound)
    if not bounds:
        raise ObjectiveError(f"{name}: no bounds")
    return bounds


def scrape_jobs() -> set[str]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return {job["job_name"] for job in config.get("scrape_configs", [])}


def number(value, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ObjectiveError(f"{where} must be a number, not {value!r}")
    return Decimal(repr(value))


def parse(path: Path, buckets: list[Decimal], jobs: set[str]) -> list[Slo]:
    """The SLOs of one objective file, validated (ObjectiveError names the file and the field)."""
    name = path.relative_to(ROOT)
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ObjectiveError(f"{name}: not YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise ObjectiveError(f"{name}: expected a mapping with service, period and slos")
    unknown = set(document) - {"service", "period", "slos"}
    if unknown:
        raise ObjectiveError(f"{name}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    service = document.get("service")
    if service != path.stem:
        raise ObjectiveError(f"{name}: service must be {path.stem!r} (the file name), not {service!r}")
    if service not in jobs:
        raise ObjectiveError(f"{name}: service {service!r} is not a scrape job in deploy/prometheus/prometheus.yml")
    try:
        period = window(document.get("period", ""))
    except ObjectiveError as error:
        raise ObjectiveError(f"{name}: period: {error}") from None
    if not 7 * 1440 <= period.minutes <= 90 * 1440 or not period.name.endswith("d"):
        raise ObjectiveError(f"{name}: period must be whole days between 7d and 90d, not {period.name}")
    slos = document.get("slos")
    if not isinstance(slos, dict) or not slos:
        raise ObjectiveError(f"{name}: slos must map availability and/or latency to an objective")
    result = []
    for kind, spec in slos.items():
        where = f"{name}: slos.{kind}"
        if kind not in KINDS:
            raise ObjectiveError(f"{where}: unknown SLO; known: {', '.join(KINDS)}")
        if not isinstance(spec, dict):
            raise ObjectiveError(f"{where}: expected a mapping with objective")
        allowed = {"objective", "description"} | ({"threshold"} if kind == "latency" else set())
        unknown = set(spec) - allowed
        if unknown:
            raise ObjectiveError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        objective = number(spec.get("objective"), f"{where}.objective")
        if not Decimal(0) < objective < Decimal(100):
            raise ObjectiveError(f"{where}.objective must be a percentage between 0 and 100, not {objective}")
        description = spec.get("description", "")
        if not isinstance(description, str):
            raise ObjectiveError(f"{where}.description must be text")
        threshold = None
        if kind == "latency":
            threshold = number(spec.get("threshold"), f"{where}.threshold")
            if threshold not in buckets:
                raise ObjectiveError(f"{where}.threshold {threshold} s is not a bucket boundary of {HTTP} "
                                     f"({', '.join(map(num, buckets))}; {BUCKETS_FILE.relative_to(ROOT)})")
        slo = Slo(service, kind, objective, period, description.strip(), threshold)
        for pair in PAIRS:
            if pair.factor(period) * slo.budget >= 1:
                raise ObjectiveError(
                    f"{where}.objective {num(objective)}% leaves a budget so large that the {pair.long.name} "
                    f"{pair.severity} ({num(pair.factor(period))}x the budget) could never fire: "
                    f"use an objective above {num((100 - 100 / pair.factor(period)).quantize(Decimal('0.01'), ROUND_UP))}%")
        result.append(slo)
    return result


def objective_files() -> list[Path]:
    return sorted(HERE.glob("*.yml"))


def load() -> dict[str, list[Slo]]:
    """Every service's SLOs, by service name. All files must share one period: the dashboard and
    the burn-rate thresholds are drawn for it."""
    buckets, jobs = http_buckets(), scrape_jobs()
    services = {}
    for path in objective_files():
        services[path.stem] = parse(path, buckets, jobs)
    if not services:
        raise ObjectiveError("deploy/slo: no objective files (*.yml)")
    periods = {slo.period for slos in services.values() for slo in slos}
    if len(periods) > 1:
        raise ObjectiveError(f"deploy/slo: every file must use the same period, found "
                             f"{', '.join(sorted(p.name for p in periods))}")
    retention = compose_retention()
    period = periods.pop()
    if retention is None or retention.minutes < period.minutes:
        raise ObjectiveError(f"docker-compose.yml: Prometheus keeps {retention.name if retention else 'the default 15d'} "
                             f"of data, less than the {period.name} SLO period: raise --storage.tsdb.retention.time")
    return services


def compose_retention() -> Window | None:
    """--storage.tsdb.retention.time of the Compose Prometheus: the budget needs a whole period of data."""
    compose = yaml.safe_load(COMPOSE.read_text())
    for arg in compose.get("services", {}).get("prometheus", {}).get("command", []) or []:
        if str(arg).startswith("--storage.tsdb.retention.time="):
            return window(str(arg).split("=", 1)[1])
    return None


# --- what the alerts say (the rules and their tests must agree word for word) -------------------------


def runbook_anchor(slo: Slo, pair: BurnPair) -> str:
    return f"docs/runbooks.md#{slo.alert.lower()}-{pair.severity}"


def summary(slo: Slo, pair: BurnPair, value: float | None = None) -> str:
    """The summary annotation; with `value`, as Prometheus renders it (for the promtool tests)."""
    burn = '{{ printf "%.1f" $value }}' if value is None else f"{value:.1f}"
    job = "{{ $labels.job }}" if value is None else slo.service
    return (f"{job}: {slo.kind} error budget burning {burn}x as fast as the objective allows "
            f"({pair.long.name} and {pair.short.name} above {num(pair.factor(slo.period))}x)")


def description(slo: Slo, pair: BurnPair) -> str:
    factor = pair.factor(slo.period)
    hours = Fraction(slo.period.minutes, 60) / Fraction(factor)
    lasts = f"{num(Fraction(round(hours * 10), 10))} hours" if hours < 72 else f"{num(Fraction(round(hours / 24 * 10), 10))} days"
    return (f"{slo.service}'s {slo.kind} SLO is {slo.headline()}. Over both the last {pair.long.name} and "
            f"{pair.short.name}, more than {num(factor * slo.budget * 100)}% of requests were bad "
            f"({num(factor)}x the {num(slo.budget * 100)}% budget): {num(pair.budget_share * 100)}% of the "
            f"{slo.period.name} error budget goes every {pair.long.name}, all of it within {lasts}.")


# --- YAML as the generated files are written ----------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # repeated label maps stay written out, not &id001 / *id001
        return True


def _str(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(document) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=float("inf"), allow_unicode=True)
