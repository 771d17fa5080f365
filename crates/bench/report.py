#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the raw results of scripts/bench.sh (Python standard library only).

Usage: report.py RESULTS_DIR OUTPUT.md

Every ratio is computed per round (same round = the same minutes on the same machine), then the
median of the rounds is shown with the min-max spread in brackets.
"""

import glob
import json
import os
import re
import statistics
import sys

NOT_MEASURED = "not measured yet"


def read_env(path):
    values = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                values[key] = value
    return values


def median(xs):
    return statistics.median(xs) if xs else None


def spread(xs, fmt):
    """`median [min–max]` of per-round values."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return NOT_MEASURED
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(median(xs))} [{fmt(min(xs))}–{fmt(max(xs))}]"


def f_int(x):
    return f"{x:,.0f}"


def f_ratio(x):
    return f"{x:.2f}×"


def f_ms(x):
    return f"{x:.2f} ms" if x >= 0.1 else f"{x * 1000:.0f} µs"


def f_ns(x):
    return f"{x:,.0f} ns"


def f_mb(kb):
    return f"{kb / 1024:.1f} MB"


# ---------------------------------------------------------------- parsers


def duration_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(path):
    text = open(path).read()
    result = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    result["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        result[f"p{pct}"] = duration_ms(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", text)
    result["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    for key in ("cpu_ticks", "sink_cpu_ticks"):
        m = re.search(rf"^{key}=(\d+)", text, re.M)
        result[key] = int(m.group(1)) if m else None
    return result


def parse_redis_benchmark(path):
    for line in open(path):
        cells = [c.strip('"') for c in line.strip().split(",")]
        if cells and cells[0] == "INCR":
            return {"rps": float(cells[1]), "p50": float(cells[4]), "p99": float(cells[6])}
    return None


def criterion_median(path):
    if not os.path.exists(path):
        return None
    data = json.load(open(path))
    return data["median"]["point_estimate"]


def criterion_ci(path):
    data = json.load(open(path))
    ci = data["median"]["confidence_interval"]
    return ci["lower_bound"], ci["upper_bound"]


def metric(path, name):
    if not os.path.exists(path):
        return None
    for line in open(path):
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


def metric_sum(path, name, labels):
    """Sum of the samples of `name` whose labels include every `key="value"` of `labels`."""
    if not os.path.exists(path):
        return None
    total, found = 0.0, False
    for line in open(path):
        if not line.startswith(name + "{"):
            continue
        label_text = line[len(name) + 1:line.rindex("}")]
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            try:
                total += float(line.rsplit(" ", 1)[1])
                found = True
            except ValueError:
                pass
    return total if found else None


def per_round(xs, ys, op):
    """op(x, y) for each round where both are measured, else None."""
    return [op(x, y) if x is not None and y is not None else None for x, y in zip(xs, ys)]


def f_us(x):
    return f"{x:.1f} µs"


def f_us_delta(x):
    return f"{x:+.1f} µs"


# ---------------------------------------------------------------- report


def write_scrape(w, results):
    """Section 2: the /metrics render at 100 to 10,000 series, and in every format. Returns the render
    time of the 10,000-series histograms (ns), or None."""
    w("## 2. `/metrics` scrape cost")
    w("")
    w("`histograms`: `telemetry::render_metrics()` itself (process metrics refreshed), filled through the")
    w("HTTP layer with `http_server_request_duration_seconds` label sets (17 series each) — the shape")
    w("of a service's /metrics. `counters`: a recorder holding that many counter series.")
    w("Series = sample lines in the exposition. Render time: criterion median [95 % CI].")
    w("")
    w("| shape | series | body size | render time |")
    w("|---|---|---|---|")
    sizes_path = os.path.join(results, "scrape-sizes.json")
    sizes = {s["case"]: s for s in json.load(open(sizes_path))} if os.path.exists(sizes_path) else {}
    render_10k = None
    for shape in ("histograms", "counters"):
        for n in (100, 1000, 10000):
            path = os.path.join(results, "criterion", f"scrape_{shape}_{n}.json")
            size = sizes.get(f"{shape}/{n}", {})
            if not os.path.exists(path):
                w(f"| {shape} | {n:,} | — | {NOT_MEASURED} |")
                continue
            med = criterion_median(path)
            lo, hi = criterion_ci(path)
            if shape == "histograms" and n == 10000:
                render_10k = med
            w(f"| {shape} | {size.get('series', n):,} | {size.get('bytes', 0) / 1024:,.0f} KiB | "
              f"{med / 1e6:.3f} ms [{lo / 1e6:.3f}–{hi / 1e6:.3f}] |")
    w("")
    write_scrape_formats(w, results, sizes)
    return render_10k


def write_scrape_formats(w, results, sizes):
    """Section 2's second table: the same /metrics in each format /metrics negotiates; the protobuf
    one carries each duration label set's native histogram (what Prometheus 3 scrapes)."""
    w("The same filled service's whole `/metrics` body in each format it negotiates "
      "(`telemetry::render_exposition`): Prometheus text (the `histograms` row above), OpenMetrics, and the "
      "Prometheus protobuf format that Prometheus 3 asks for with `scrape_native_histograms`, where each "
      "duration label set also carries its native histogram (schema 3: the counts of the buckets it has "
      "requests in, read from 8 shards × 233 cells). No span is sampled in this bench, so no format "
      "carries exemplars. Render time: criterion median [95 % CI]; × text = median over the text row's.")
    w("")
    w("| duration label sets | format | body size | render time | × text |")
    w("|---|---|---|---|---|")
    for n in (100, 1000, 10000):
        text_path = os.path.join(results, "criterion", f"scrape_histograms_{n}.json")
        text = criterion_median(text_path) if os.path.exists(text_path) else None
        label_sets = sizes.get(f"histograms/{n}", {}).get("duration_label_sets")
        sets = f"{label_sets:,}" if label_sets is not None else "?"
        for fmt, label in (("histograms", "Prometheus text"), ("openmetrics", "OpenMetrics"),
                           ("protobuf", "protobuf, with native histograms")):
            path = os.path.join(results, "criterion", f"scrape_{fmt}_{n}.json")
            if not os.path.exists(path):
                w(f"| {sets} | {label} | — | {NOT_MEASURED} | — |")
                continue
            med = criterion_median(path)
            lo, hi = criterion_ci(path)
            size = sizes.get(f"{fmt}/{n}", {}).get("bytes", 0)
            ratio = f"{med / text:.2f}×" if text else "—"
            w(f"| {sets} | {label} | {size / 1024:,.0f} KiB | {med / 1e6:.3f} ms [{lo / 1e6:.3f}–{hi / 1e6:.3f}] | "
              f"{ratio} |")
    w("")


def main(results, output):
    meta = read_env(os.path.join(results, "meta.env"))
    repeats = int(meta.get("repeats", "1"))
    rounds = range(1, repeats + 1)
    clk = int(meta.get("clk_tck", "100"))
    have_rc = meta.get("have_redis_counter") == "1"
    lines = []
    w = lines.append
    goals = []  # earlier rounds' goals: (goal, target, measured, verdict)
    goals14 = []  # issue 14's goals, same shape

    w("# Benchmarks")
    w("")
    w("Generated by `just bench` (scripts/bench.sh → crates/bench/report.py); do not edit by hand.")
    w("This machine is shared and noisy: every figure has its baseline from the same run, ratios are")
    w(f"computed per round, and each cell shows the median of {repeats} interleaved round(s) with the")
    w("min–max spread in brackets.")
    w("")
    w("| | |")
    w("|---|---|")
    for key, label in [
        ("command", "command"),
        ("date", "date (UTC)"),
        ("commit", "commit"),
        ("cpu", "CPU model"),
        ("cores", "cores"),
        ("kernel", "kernel"),
        ("load_before", "load average before / after"),
        ("rustc", "rustc"),
        ("wrk", "wrk"),
        ("redis", "redis-server / redis-benchmark"),
        ("python", "Python"),
        ("python_packages", "PyPI packages"),
    ]:
        value = meta.get(key, "?").strip()
        if key == "load_before":
            value = f"{value} / {meta.get('load_after', '?')}"
        w(f"| {label} | {value} |")
    w(
        f"| load settings | wrk -t{meta.get('threads')} -c{meta.get('connections')} -d{meta.get('duration')}s "
        f"--latency, {repeats} round(s); memory: {meta.get('memory_load')} s of load |"
    )
    w("")
    if meta.get("quick") == "1":
        w("**Quick run** (`--quick`): short durations, fewer rounds; the memory load lasts "
          f"{meta.get('memory_load')} s instead of 1 minute. Run `just bench` for the full figures.")
        w("")

    # ------------------------------------------------ 1. layer
    def layer_round(group, case, r):
        return criterion_median(os.path.join(results, "criterion", str(r), group, case + ".json"))

    layer_cases = [
        ("layer", "metrics_no_subscriber", "layer with no tracing subscriber (server spans still come from the SDK)"),
        ("layer_sdk_disabled", "metrics_only", "**metrics only** (`telemetry::init` with `OTEL_SDK_DISABLED=true`)"),
        ("layer", "full", "**full, sampled** (every request sampled: batch processor, OTLP/gRPC exporter; + metrics)"),
        ("layer_unsampled", "full_unsampled",
         "**full, unsampled** (same, the sampler drops the request: `parentbased_traceidratio` 1e-9)"),
        ("layer", "full_traceparent", "full, sampled, request carries a `traceparent`"),
    ]
    w("## 1. Telemetry layer cost (criterion, in-process)")
    w("")
    w("A trivial axum handler driven with `tower::ServiceExt::oneshot` on one thread; `bare` is the same")
    w("router without `telemetry::HttpLayer`. Full telemetry is what `telemetry::init` installs, exporting")
    w("on its own thread over OTLP/gRPC to an in-process sink that decodes, counts and discards (no socket on")
    w("the request path). Sampled and unsampled requests are measured apart: a process whose sampler")
    w("keeps every request, and one whose ratio sampler keeps (practically) none. Added = case − bare")
    w("of the same process and round.")
    w("")
    w("| configuration | time per request | added per request |")
    w("|---|---|---|")
    bare = [layer_round("layer", "bare", r) for r in rounds]
    w(f"| bare axum handler | {spread(bare, f_ns)} | — |")
    added = {}
    for group, case, label in layer_cases:
        totals = [layer_round(group, case, r) for r in rounds]
        deltas = []
        for r in rounds:
            t, b = layer_round(group, case, r), layer_round(group, "bare", r)
            deltas.append(t - b if t is not None and b is not None else None)
        added[case] = [d for d in deltas if d is not None]
        w(f"| {label} | {spread(totals, f_ns)} | {spread(deltas, f_ns)} |")
    w("")
    w("Anchors: the OpenTelemetry tower HTTP server layer adds about 917 ns per request (tracing + metrics,")
    w("its own benchmark on an Apple M4 Pro); autometrics measures 550–650 ns per call for its metrics")
    w("backend. Those were measured on other, faster CPUs; the figures above are from this machine.")
    spans = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(results, "layer-spans-*.json")))]
    if spans:
        exported = sum(s.get("otel_spans_exported_total", 0) for s in spans)
        dropped = sum(s.get("otel_spans_dropped_total", 0) for s in spans)
        received = sum(s.get("sink", {}).get("spans", 0) for s in spans)
        w("")
        w(f"Spans during the layer benches: {exported:,.0f} exported, {dropped:,.0f} dropped "
          f"(queue full), {received:,.0f} received by the sink. A dropped span skips the queue, so "
          "drops would flatter the figure; 0 means every measured request paid for a full export.")
    unsampled_over_metrics = [
        u - m for u, m in zip(added.get("full_unsampled", []), added.get("metrics_only", []))]
    if unsampled_over_metrics:
        w("")
        w(f"An unsampled request costs {spread(unsampled_over_metrics, f_ns)} more than metrics only "
          "(added by `full, unsampled` − added by `metrics only`, per round): what tracing costs before, "
          "or regardless of, the sampling decision.")
    unsampled_spans = [json.load(open(p)) for p in
                       sorted(glob.glob(os.path.join(results, "layer-unsampled-spans-*.json")))]
    if unsampled_spans:
        sampled = sum(s.get("otel_spans_exported_total", 0) + s.get("otel_spans_dropped_total", 0)
                      for s in unsampled_spans)
        w(f"Spans sampled during the unsampled case: {sampled:,.0f} (0 = every measured request was unsampled).")
    w("")
    full_added = median(added.get("full", []))
    metrics_added = median(added.get("metrics_only", []))
    if full_added is not None:
        goals.append(("full layer cost (tracing + metrics)", "< 917 ns added",
                      f_ns(full_added), "met" if full_added < 917 else "not met"))
    # What a service pays for metrics is the `metrics_only` case: `telemetry::init` with tracing off.
    if metrics_added is not None:
        goals.append(("metrics cost (init with OTEL_SDK_DISABLED=true)", "< 550–650 ns (autometrics)",
                      f_ns(metrics_added), "met" if metrics_added < 650 else "not met"))

    # ------------------------------------------------ 2. scrape
    render_10k = write_scrape(w, results)
    if render_10k is not None:
        goals.append(("/metrics render at 10,000 series", "< 5 ms", f"{render_10k / 1e6:.2f} ms",
                      "met" if render_10k < 5e6 else "not met"))

    # ------------------------------------------------ 3, 4, 5: wrk
    labels = {
        "bare-hello": "bare axum (no telemetry)",
        "peer-prom": "axum + axum-prometheus 0.10 (the metrics peer)",
        "wfe-metrics": "web-flask-equivalent, metrics only (`OTEL_SDK_DISABLED=true`)",
        "wfe-no-layer": "web-flask-equivalent without its HTTP layer (metrics only, `examples/without_layer.rs`)",
        "peer-otel": "the stack users assemble: axum-tracing-opentelemetry 0.42 + tracing-opentelemetry 0.34 "
                     "+ OTLP/gRPC batch exporter + axum-prometheus",
        "wfe-full": "web-flask-equivalent, full telemetry, 100 % sampled",
        "wfe-ratio": "web-flask-equivalent, full telemetry, `parentbased_traceidratio` "
                     f"{meta.get('sampler_ratio', '0.1')}",
        "flask-000": "seed 000: Flask under gunicorn",
        "rc-metrics": "redis-counter, metrics only",
        "rc-full": "redis-counter, full telemetry, 100 % sampled",
        "flask-001": "seed 001: Flask + prometheus_flask_exporter + Redis under gunicorn",
    }
    short = {  # for the notes under the table
        "peer-otel": "assembled stack",
        "wfe-full": "web-flask-equivalent 100 %",
        "wfe-ratio": f"web-flask-equivalent ratio {meta.get('sampler_ratio', '0.1')}",
        "rc-full": "redis-counter full",
    }
    wrk = {}
    for name in labels:
        runs = []
        for r in rounds:
            path = os.path.join(results, "wrk", f"{name}.{r}.txt")
            runs.append(parse_wrk(path) if os.path.exists(path) else None)
        wrk[name] = runs

    def col(name, key):
        return [run[key] if run else None for run in wrk[name]]

    def ratio(a, b, key="rps"):
        return [x[key] / y[key] if x and y and x[key] and y[key] else None
                for x, y in zip(wrk[a], wrk[b])]

    def cpu_us(name):
        out = []
        for run in wrk[name]:
            if run and run["cpu_ticks"] is not None and run["requests"]:
                out.append(run["cpu_ticks"] / clk / run["requests"] * 1e6)
            else:
                out.append(None)
        return out

    def errors(name):
        runs = [run for run in wrk[name] if run]
        if not runs:
            return "—"
        non2xx = sum(r["non2xx"] for r in runs)
        sock = sum(r["socket_errors"] for r in runs)
        return "0" if non2xx == 0 and sock == 0 else f"{non2xx} non-2xx, {sock} socket"

    # Spans delivered: what the sink counted for the target's service.name (span `GET /`), after
    # the target flushed and exited, over the GET / requests its own /metrics counted.
    sink = read_env(os.path.join(results, "sink-stats.env"))
    try:
        sink_final = json.loads(sink.get("final", "{}"))
    except ValueError:
        sink_final = {}
    full_targets = meta.get("full_targets", "").split()
    sampler_ratio = float(meta.get("sampler_ratio", "0.1"))
    served_metric = {  # the target's own count of GET / requests, from its /metrics
        "peer-otel": ("axum_http_requests_total", {"method": "GET", "endpoint": "/"}),
        "wfe-full": ("http_server_request_duration_seconds_count", {"http_request_method": "GET", "http_route": "/"}),
        "wfe-ratio": ("http_server_request_duration_seconds_count", {"http_request_method": "GET", "http_route": "/"}),
        "rc-full": ("http_server_request_duration_seconds_count", {"http_request_method": "GET", "http_route": "/"}),
    }
    delivery = {}  # name -> dict(served, delivered, expected_fraction, exit)
    for name in full_targets:
        metric_name, match = served_metric.get(name, (None, None))
        served = metric_sum(os.path.join(results, f"metrics-{name}.txt"), metric_name, match) if metric_name else None
        delivered = sink_final.get("services", {}).get(f"bench-{name}", {}).get("GET /", 0) if sink_final else None
        stop = read_env(os.path.join(results, f"stop-{name}.env"))
        delivery[name] = {
            "served": served,
            "delivered": delivered,
            "expected": sampler_ratio if name == "wfe-ratio" else 1.0,
            "exit": stop.get("exit", "?"),
            "seconds": stop.get("seconds", "?"),
        }

    def delivered_cell(name):
        d = delivery.get(name)
        if d is None:
            return "–"
        if not d["served"] or d["delivered"] is None:
            return NOT_MEASURED
        pct = d["delivered"] / d["served"] * 100
        text = f"{pct:.1f} % ({d['delivered']:,.0f} of {d['served']:,.0f})"
        if d["expected"] < 1.0:
            text += f", {pct / (d['expected'] * 100):.2f}× the sampler's {d['expected'] * 100:.0f} %"
        if d["exit"] != "0":
            text += f"; exit {d['exit']} after SIGTERM"
        return text

    e2e = ["bare-hello", "peer-prom", "wfe-metrics", "wfe-no-layer", "peer-otel", "wfe-full", "wfe-ratio"]
    bare_cpu, metrics_cpu = cpu_us("bare-hello"), cpu_us("wfe-metrics")
    w("## 3. End to end over loopback (wrk): the services, their peers, bare axum")
    w("")
    w(f"`wrk -t{meta.get('threads')} -c{meta.get('connections')} -d{meta.get('duration')}s --latency` against "
      "`GET /`, every target running at once and measured round-robin, so each round hits every target "
      "in the same minutes. Every target serves web-flask-equivalent's handler (an atomic count and a "
      "formatted line; with a metrics recorder also `hello_world_counter`); the rows differ only in the "
      "telemetry around it. The peers are built in crates/bench/src/peers.rs following axum-prometheus's "
      "and axum-tracing-opentelemetry's own READMEs (its spans enabled with `otel::tracing=trace`, as "
      "init-tracing-opentelemetry does). The services run on mimalloc (every service binary's allocator, "
      "docs/ARCHITECTURE.md); bare axum and the peers on the system allocator, as a user's would.")
    w("")
    w("CPU per request = the server process's user+system time (/proc/PID/stat, all threads: the export "
      "thread included) during the wrk run / requests served (10 ms ticks). It is what the server "
      "pays whatever else runs on the 2 cores (wrk, the sink), so it is the figure to judge by; req/s "
      "is shared with wrk. − bare and − metrics-only: the same figure minus that target's, per round. "
      "The sink (crates/bench/src/sink.rs) decodes each export into cut-down OTLP messages (service "
      "and span names; every other field read past, not allocated), so the cores it shares with the "
      "targets lose little to it; its own CPU is reported below.")
    w("")
    w("Spans delivered (full telemetry, OTLP/gRPC to one live sink, each target under its own "
      "`service.name`): `GET /` spans the sink received from the target over all the GET / requests "
      "the target's own /metrics counted (warm-up included), after the target was stopped with SIGTERM "
      "and flushed. A span dropped anywhere (queue full, failed export, not flushed) is missing here. "
      "A little over 100 % happens where a handler waits (redis-counter): a request wrk abandons at "
      "the end of a run still ends its span, but no response is counted.")
    w("")
    w("| target | req/s | vs bare | CPU per request | − bare | − metrics-only | p50 | p99 | spans delivered | errors |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for name in e2e:
        cpu = cpu_us(name)
        vs_bare = "—" if name == "bare-hello" else spread(ratio(name, "bare-hello"), f_ratio)
        minus_bare = "—" if name == "bare-hello" else spread(per_round(cpu, bare_cpu, lambda a, b: a - b), f_us_delta)
        minus_metrics = ("—" if name in ("bare-hello", "wfe-metrics", "wfe-no-layer")
                         else spread(per_round(cpu, metrics_cpu, lambda a, b: a - b), f_us_delta))
        w(f"| {labels[name]} | {spread(col(name, 'rps'), f_int)} | {vs_bare} | {spread(cpu, f_us)} | "
          f"{minus_bare} | {minus_metrics} | {spread(col(name, 'p50'), f_ms)} | {spread(col(name, 'p99'), f_ms)} | "
          f"{delivered_cell(name)} | {errors(name)} |")
    w("")
    metrics_vs_peer = per_round(metrics_cpu, cpu_us("peer-prom"), lambda a, b: a / b)
    if any(x is not None for x in metrics_vs_peer):
        w(f"Metrics only against the metrics peer, CPU per request: web-flask-equivalent / axum-prometheus = "
          f"{spread(metrics_vs_peer, f_ratio)} (below 1.00× = cheaper than axum-prometheus).")
    layer_cpu = per_round(metrics_cpu, cpu_us("wfe-no-layer"), lambda a, b: a - b)
    no_layer_rps = ratio("wfe-no-layer", "bare-hello")
    if any(x is not None for x in layer_cpu):
        w("What the HTTP layer itself costs (metrics only): web-flask-equivalent − the same binary's set-up "
          f"without the layer = {spread(layer_cpu, f_us_delta)} CPU per request; without the layer the service "
          f"reaches {spread(no_layer_rps, f_ratio)} bare axum's req/s (its handler's state, `hello_world_counter`, "
          "the ops routes, the client address and the telemetry set-up, but no layer).")
    full_vs_peer = per_round(ratio("wfe-full", "bare-hello"), ratio("peer-otel", "bare-hello"), lambda a, b: a / b)
    if any(x is not None for x in full_vs_peer):
        w(f"Full telemetry (100 % sampled) against the assembled stack, req/s: {spread(full_vs_peer, f_ratio)}.")
    sink_cpu_notes = []
    for name in full_targets:
        per = [run["sink_cpu_ticks"] / clk / run["requests"] * 1e6
               for run in wrk.get(name, []) if run and run["sink_cpu_ticks"] is not None and run["requests"]]
        if per:
            sink_cpu_notes.append(f"{short.get(name, name)} {spread(per, f_us)}")
    if sink_cpu_notes:
        w("The OTLP sink's CPU per request during each full-telemetry target's runs, on the same cores "
          "(a real collector runs elsewhere): " + "; ".join(sink_cpu_notes) + ".")
    stop_notes = [f"{short.get(name, name)} {d['seconds']} s (exit {d['exit']})" for name, d in delivery.items()]
    if stop_notes:
        w("Time from SIGTERM to exit (drain + flush): " + ", ".join(stop_notes) + ".")
    for name in full_targets:
        path = os.path.join(results, f"metrics-{name}.txt")
        dropped = metric(path, "otel_spans_dropped_total")
        if dropped is not None:
            exported = metric(path, "otel_spans_exported_total")
            failed = metric(path, "otel_spans_export_failed_total")
            w(f"{short.get(name, name)} by its own counters, before SIGTERM: otel_spans_exported_total {exported or 0:,.0f}, "
              f"otel_spans_dropped_total {dropped:,.0f}, otel_spans_export_failed_total {failed or 0:,.0f}.")
    w("")

    # Issue 14's goals, each from ratios and CPU per request of this run (per round, then median).
    def med(xs):
        return median([x for x in xs if x is not None])

    def verdict(*conds):
        if any(c is None for c in conds):
            return NOT_MEASURED
        return "met" if all(conds) else "not met"

    ratio_minus_metrics = per_round(cpu_us("wfe-ratio"), metrics_cpu, lambda a, b: a - b)
    m = med(ratio_minus_metrics)
    goals14.append(("1. unsampled requests cost almost nothing beyond metrics: `parentbased_traceidratio` "
                    f"{meta.get('sampler_ratio', '0.1')}, CPU per request",
                    "≤ metrics-only + 0.8 µs",
                    f"metrics-only {spread(ratio_minus_metrics, f_us_delta)}" if m is not None else NOT_MEASURED,
                    verdict(None if m is None else m <= 0.8)))
    full_minus_bare = med(per_round(cpu_us("wfe-full"), bare_cpu, lambda a, b: a - b))
    full_rps = med(ratio("wfe-full", "bare-hello"))
    d = delivery.get("wfe-full", {})
    all_delivered = (None if not d.get("served") or d.get("delivered") is None
                     else d["delivered"] >= d["served"])
    goals14.append(("2. full telemetry, 100 % sampled",
                    "CPU per request ≤ bare + 4 µs, ≥ 0.70× bare req/s, 100 % of spans delivered",
                    (f"bare {f_us_delta(full_minus_bare)}, {f_ratio(full_rps)}, {delivered_cell('wfe-full')}"
                     if full_minus_bare is not None and full_rps is not None else NOT_MEASURED),
                    verdict(None if full_minus_bare is None else full_minus_bare <= 4.0,
                            None if full_rps is None else full_rps >= 0.70, all_delivered)))
    mv = med(metrics_vs_peer)
    metrics_rps = med(ratio("wfe-metrics", "bare-hello"))
    goals14.append(("3. metrics only below the metrics peer",
                    "CPU per request ≥ 15 % below axum-prometheus's (≤ 0.85×), ≥ 0.95× bare req/s",
                    (f"{f_ratio(mv)} axum-prometheus's ({(1 - mv) * 100:.0f} % below), {f_ratio(metrics_rps)} bare"
                     + (f" (the service without the layer: {f_ratio(med(no_layer_rps))})"
                        if med(no_layer_rps) is not None else "")
                     if mv is not None and metrics_rps is not None else NOT_MEASURED),
                    verdict(None if mv is None else mv <= 0.85,
                            None if metrics_rps is None else metrics_rps >= 0.95)))
    full_ratio = median([x for x in ratio("wfe-full", "bare-hello") if x])
    metrics_ratio = median([x for x in ratio("wfe-metrics", "bare-hello") if x])
    if full_ratio is not None:
        goals.append(("full telemetry req/s vs bare", "≥ 0.85×", f_ratio(full_ratio),
                      "met" if full_ratio >= 0.85 else "not met"))
    if metrics_ratio is not None:
        goals.append(("metrics-only req/s vs bare", "≥ 0.95×", f_ratio(metrics_ratio),
                      "met" if metrics_ratio >= 0.95 else "not met"))

    w("## 4. Against the seeds' own stack (Flask under gunicorn)")
    w("")
    w(f"The seeds' apps (crates/bench/flask/, faithful to seeds 000 and 001) under gunicorn with "
      f"{meta.get('cores')} sync workers (= cores), from PyPI in target/bench-venv; same wrk settings and rounds.")
    w("Seed 000 reported 114 req/s at 100 concurrent with ab on its own machine; the comparison that counts is this one.")
    w("")
    w("| ours | req/s | p99 | seed baseline | req/s | p99 | req/s ratio | p99 lower? | CPU per request, ours / seed |")
    w("|---|---|---|---|---|---|---|---|---|")
    pairs = [("wfe-full", "flask-000"), ("wfe-metrics", "flask-000"), ("rc-full", "flask-001"), ("rc-metrics", "flask-001")]
    for ours, seed in pairs:
        if not any(wrk[ours]):
            w(f"| {labels[ours]} | {NOT_MEASURED} | | {labels[seed]} | {spread(col(seed, 'rps'), f_int)} | "
              f"{spread(col(seed, 'p99'), f_ms)} | {NOT_MEASURED} | | |")
            continue
        p99_ours, p99_seed = median([x for x in col(ours, 'p99') if x]), median([x for x in col(seed, 'p99') if x])
        lower = "yes" if p99_ours is not None and p99_seed is not None and p99_ours < p99_seed else "no"
        w(f"| {labels[ours]} | {spread(col(ours, 'rps'), f_int)} | {spread(col(ours, 'p99'), f_ms)} | "
          f"{labels[seed]} | {spread(col(seed, 'rps'), f_int)} | {spread(col(seed, 'p99'), f_ms)} | "
          f"{spread(ratio(ours, seed), f_ratio)} | {lower} | "
          f"{spread(cpu_us(ours), lambda x: f'{x:.0f} µs')} / {spread(cpu_us(seed), lambda x: f'{x:.0f} µs')} |")
        r = median([x for x in ratio(ours, seed) if x])
        if ours.endswith("full") and r is not None:
            goals.append((f"{ours.replace('wfe', 'web-flask-equivalent').replace('rc', 'redis-counter')} vs its Flask seed",
                          "≥ 30× req/s, lower p99", f"{f_ratio(r)}, p99 {f_ms(p99_ours)} vs {f_ms(p99_seed)}",
                          "met" if r >= 30 and lower == "yes" else "not met"))
    if not have_rc:
        goals.append(("redis-counter vs its Flask seed", "≥ 30× req/s, lower p99", NOT_MEASURED, NOT_MEASURED))
    w("")
    w("wrk and the server share the same 2 cores, so req/s ratios are capped by the load generator: see")
    w("the bare binary's own ratio to seed 000 below. CPU per request (all processes of the target, gunicorn")
    w("master + workers included) is the comparison the load generator does not distort.")
    bare_vs = median([x for x in ratio("bare-hello", "flask-000") if x])
    if bare_vs is not None:
        w(f"For scale: the bare axum binary (no telemetry at all) reaches {f_ratio(bare_vs)} seed 000's req/s here.")
    w("")
    w(f"Errors (non-2xx or socket) over all rounds: seed 000 {errors('flask-000')}, seed 001 {errors('flask-001')}, "
      f"redis-counter {errors('rc-full') if have_rc else '—'}.")
    w("")

    w("## 5. redis-counter against redis-benchmark")
    w("")
    w(f"`redis-benchmark -t incr -c {meta.get('connections')} -P 1` (no pipelining) on the same redis-server, "
      "in the same rounds as the HTTP runs: HTTP INCRs per second (each `GET /` is one `INCR hits`) over raw INCRs per second.")
    w("")
    rb = []
    for r in rounds:
        path = os.path.join(results, "wrk", f"redis-benchmark.{r}.csv")
        rb.append(parse_redis_benchmark(path) if os.path.exists(path) else None)
    rb_rps = [x["rps"] if x else None for x in rb]
    w("| | INCR/s | p50 | p99 | ratio |")
    w("|---|---|---|---|---|")
    w(f"| redis-benchmark, raw INCR | {spread(rb_rps, f_int)} | {spread([x['p50'] if x else None for x in rb], f_ms)} | "
      f"{spread([x['p99'] if x else None for x in rb], f_ms)} | 1.00× |")
    for name in ("rc-full", "rc-metrics"):
        if not any(wrk[name]):
            w(f"| {labels[name]} | {NOT_MEASURED} | | | {NOT_MEASURED} |")
            continue
        rr = [x["rps"] / y if x and y else None for x, y in zip(wrk[name], rb_rps)]
        w(f"| {labels[name]} | {spread(col(name, 'rps'), f_int)} | {spread(col(name, 'p50'), f_ms)} | "
          f"{spread(col(name, 'p99'), f_ms)} | {spread(rr, f_ratio)} |")
        if name == "rc-full":
            m = median([x for x in rr if x])
            goals14.append(("4. redis-counter (full telemetry) near Redis",
                            f"≥ 0.5× `redis-benchmark -t incr -c {meta.get('connections')}` INCR/s",
                            spread(rr, f_ratio), verdict(None if m is None else m >= 0.5)))
    if not have_rc:
        goals14.append(("4. redis-counter near Redis", "≥ 0.5× redis-benchmark INCR/s", NOT_MEASURED, NOT_MEASURED))
    w("")
    if "rc-full" in delivery:
        w(f"Spans delivered by redis-counter (full telemetry) to the sink: {delivered_cell('rc-full')}.")
        w("")

    # ------------------------------------------------ 6. memory
    w("## 6. Memory (VmRSS)")
    w("")
    w(f"Each service started fresh with full telemetry (OTLP/gRPC): RSS idle, sampled during "
      f"{meta.get('memory_load')} s of wrk load, and after; once with the sink live, once with the endpoint "
      "unreachable (a closed loopback port: every export fails, spans are dropped and counted).")
    w("")
    w("| service | collector | idle | during load (samples) | after load | spans exported / failed / dropped |")
    w("|---|---|---|---|---|---|")
    worst_after = None
    growth_notes = []
    for svc, label in (("wfe", "web-flask-equivalent"), ("rc", "redis-counter")):
        for collector in ("up", "down"):
            env = read_env(os.path.join(results, "rss", f"{svc}.{collector}.env"))
            if not env:
                w(f"| {label} | {collector} | {NOT_MEASURED} | | | |")
                continue
            samples = [int(x) for x in env.get("samples", "").split()]
            after = int(env.get("after", "0"))
            mpath = os.path.join(results, f"metrics-mem-{svc}.{collector}.txt")
            counters = " / ".join(
                f"{metric(mpath, n) or 0:,.0f}"
                for n in ("otel_spans_exported_total", "otel_spans_export_failed_total", "otel_spans_dropped_total"))
            w(f"| {label} | {'live' if collector == 'up' else 'unreachable'} | {f_mb(int(env.get('idle', '0')))} | "
              f"{', '.join(f_mb(s) for s in samples)} | {f_mb(after)} | {counters} |")
            worst_after = max(worst_after or 0, after)
            if len(samples) >= 2:
                # From the sample halfway through the load to the end: the first seconds are
                # warm-up (allocator arenas, pool connections), a leak keeps growing after them.
                growth = (after - samples[len(samples) // 2]) / 1024
                growth_notes.append((label, collector, growth))
    w("")
    w("Growth is measured from the sample halfway through the load to the end (the first seconds are warm-up);")
    w("the queue of unsent spans is bounded (`OTEL_BSP_MAX_QUEUE_SIZE`), so RSS with the collector down must level off.")
    w("")
    idle_e2e = read_env(os.path.join(results, "rss", "idle-e2e.env"))
    after_e2e = read_env(os.path.join(results, "rss", "after-e2e.env"))
    if after_e2e:
        w("For scale, after the wrk rounds: " + ", ".join(
            f"{labels.get(k, k)} {f_mb(int(v))}" for k, v in after_e2e.items()) + " (gunicorn: master + workers).")
        w("")
    if worst_after is not None:
        goals.append(("RSS per service after load", "< 30 MB", f_mb(worst_after),
                      "met" if worst_after < 30 * 1024 else "not met"))
    for label, collector, growth in growth_notes:
        if collector == "down":
            live = next((g for l, c, g in growth_notes if l == label and c == "up"), None)
            live_text = f" (collector live: {live:+.1f} MB)" if live is not None else ""
            goals.append((f"{label}: RSS growth with the collector down, second half of the load", "none (< 1 MB)",
                          f"{growth:+.1f} MB{live_text}", "met" if growth < 1.0 else "not met"))
    if not have_rc:
        goals.append(("redis-counter memory", "< 30 MB, no growth", NOT_MEASURED, NOT_MEASURED))

    # ------------------------------------------------ goals + notes
    summary = ["## Goals of issue 14 (performance, round 2)", "",
               "Each verdict is computed from this run's figures (per-round ratios and CPU per request, "
               "their median deciding; spread in brackets).", "",
               "| goal | target | measured | |", "|---|---|---|---|"]
    for goal, target, measured, result in goals14:
        summary.append(f"| {goal} | {target} | {measured} | {result} |")
    summary += ["", "## Earlier goals (round 1)", "",
                "| goal | target | measured (median) | |", "|---|---|---|---|"]
    for goal, target, measured, result in goals:
        summary.append(f"| {goal} | {target} | {measured} | {result} |")
    summary.append("")
    insert_at = lines.index("## 1. Telemetry layer cost (criterion, in-process)")
    lines[insert_at:insert_at] = summary

    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
    if os.path.exists(notes):
        lines.append(open(notes).read().rstrip("\n"))
        lines.append("")
    with open(output, "w") as fh:
        fh.write("\n".join(lines))


def only_scrape(results, output):
    """`just bench --only scrape`: section 2 from this run, in place of the one in `output`; the
    other sections stay as the last full run wrote them."""
    meta = read_env(os.path.join(results, "meta.env"))
    lines = []
    render_10k = write_scrape(lines.append, results)
    lines.insert(1, "")
    lines.insert(2, f"(This section: `{meta.get('command', '?')}` at {meta.get('commit', '?')}, "
                    f"{meta.get('date', '?')}, load average {meta.get('load_before', '?')}; the other "
                    "sections are from the run in the table at the top. The goals table's render figure "
                    f"is that run's; this one's 10,000 series: "
                    f"{f'{render_10k / 1e6:.2f} ms' if render_10k is not None else NOT_MEASURED}.)")
    text = open(output).read()
    start = text.index("## 2. ")
    end = text.index("## 3. ", start)
    open(output, "w").write(text[:start] + "\n".join(lines) + "\n" + text[end:])


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 4 and args[:2] == ["--only", "scrape"]:
        only_scrape(args[2], args[3])
    elif len(args) == 2:
        main(*args)
    else:
        sys.exit("usage: report.py RESULTS_DIR OUTPUT.md | report.py --only scrape RESULTS_DIR OUTPUT.md")
