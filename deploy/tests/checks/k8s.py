"""The kustomize output of deploy/k8s: one namespace, the PrometheusRule equal to the Prometheus rules,
a Deployment, Service and ServiceMonitor per service, pod hardening and probes, the prober's config
equal to Compose's, each ServiceMonitor's histogram settings equal to its prometheus.yml job's (`k8s`); the
same output without prometheus-operator's CRD objects, for kubernetes-validate, which has no schemas for
them (`k8s-core`); and those CRD objects against the schemas of the operator's CRDs in deploy/tests/crds
(`k8s-crds`)."""

from __future__ import annotations

from .common import OUR_SERVICES, ROOT, Problems, load_yaml, rule_groups

CRD_DIR = ROOT / "deploy/tests/crds"

CRD_GROUPS = ("monitoring.coreos.com/",)


def without_crds(documents: list[dict]) -> list[dict]:
    """The documents kubernetes-validate has schemas for: all but prometheus-operator's CRD objects."""
    return [d for d in documents if not d["apiVersion"].startswith(CRD_GROUPS)]


def check_k8s(problems: Problems, documents: list[dict]) -> str:
    by_kind: dict[str, list[dict]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)
    for document in documents:
        if document["kind"] != "Namespace":
            problems.check(document["metadata"].get("namespace") == "observable",
                           f"k8s: {document['kind']}/{document['metadata']['name']} not in namespace observable")
    rules = by_kind.get("PrometheusRule", [])
    problems.check(len(rules) == 1, "k8s: expected exactly one PrometheusRule")
    if rules:
        problems.check(rules[0]["spec"]["groups"] == rule_groups(),
                       "k8s: PrometheusRule groups differ from deploy/prometheus/rules (run deploy/k8s/gen_prometheusrule.py)")
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    monitors = {m["metadata"]["name"]: m for m in by_kind.get("ServiceMonitor", [])}
    for name, port in OUR_SERVICES.items():
        problems.check(name in deployments and name in services and name in monitors,
                       f"k8s: {name} needs a Deployment, a Service and a ServiceMonitor")
        if name in services:
            problems.check([p["port"] for p in services[name]["spec"]["ports"]] == [port], f"k8s: Service {name} port")
    for name, monitor in monitors.items():
        selector = monitor["spec"]["selector"]["matchLabels"]
        matched = [s for s in services.values()
                   if all(s["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
        problems.check(len(matched) == 1, f"k8s: ServiceMonitor {name} selects {len(matched)} Services, not 1")
        for endpoint in monitor["spec"]["endpoints"]:
            port_names = {p.get("name") for s in matched for p in s["spec"]["ports"]}
            problems.check(endpoint.get("port") in port_names, f"k8s: ServiceMonitor {name}: no Service port {endpoint.get('port')}")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        problems.check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"k8s: {name}: pod runAsNonRoot")
        problems.check(pod.get("securityContext", {}).get("seccompProfile", {}).get("type") == "RuntimeDefault",
                       f"k8s: {name}: seccompProfile RuntimeDefault")
        for container in pod["containers"]:
            where = f"k8s: {name}/{container['name']}"
            context = container.get("securityContext", {})
            problems.check(context.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation")
            problems.check(context.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
            problems.check(context.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: drop ALL capabilities")
            problems.check("livenessProbe" in container and "readinessProbe" in container, f"{where}: probes")
            resources = container.get("resources", {})
            problems.check("requests" in resources and "limits" in resources, f"{where}: requests and limits")
            if name in OUR_SERVICES:
                problems.check(container["readinessProbe"].get("httpGet", {}).get("path") == "/readyz", f"{where}: /readyz")
                problems.check(container["livenessProbe"].get("httpGet", {}).get("path") == "/healthz", f"{where}: /healthz")
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                problems.check(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").startswith("http://"), f"{where}: OTEL endpoint")
    # Native histograms as prometheus.yml scrapes them: the ServiceMonitor fields prometheus-operator
    # turns into the job's scrape_native_histograms / always_scrape_classic_histograms.
    jobs = {job["job_name"]: job for job in load_yaml(ROOT / "deploy/prometheus/prometheus.yml")["scrape_configs"]}
    for name, monitor in monitors.items():
        job = jobs.get(name)
        if job is None:
            continue
        for field, setting in SCRAPE_HISTOGRAM_FIELDS.items():
            problems.check(monitor["spec"].get(field) == job.get(setting),
                           f"k8s: ServiceMonitor {name}: {field} {monitor['spec'].get(field)} but prometheus.yml's "
                           f"job has {setting}: {job.get(setting)}")
    compose_config = load_yaml(ROOT / "deploy/url-prober/config.yml")
    k8s_config = load_yaml(ROOT / "deploy/k8s/url-prober-config.yml")
    problems.check(compose_config == k8s_config, "k8s: url-prober-config.yml differs from deploy/url-prober/config.yml")
    return f"{len(documents)} Kubernetes objects"


# ServiceMonitor field (prometheus-operator v0.93.0, NativeHistogramConfig) -> the Prometheus setting it
# writes into the job's scrape config (pkg/prometheus/promcfg.go, addNativeHistogramConfig).
SCRAPE_HISTOGRAM_FIELDS = {
    "scrapeNativeHistograms": "scrape_native_histograms",
    "scrapeClassicHistograms": "always_scrape_classic_histograms",
}


def strict(schema: dict) -> dict:
    """A CRD's OpenAPI schema as a JSON Schema that rejects fields it does not define, as
    `kubernetes-validate --strict` does for built-in kinds (the API server would prune them silently)."""
    out = dict(schema)
    if "properties" in schema:
        out["properties"] = {name: strict(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = strict(schema["additionalProperties"])
    if isinstance(schema.get("items"), dict):
        out["items"] = strict(schema["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            out[key] = [strict(sub) for sub in schema[key]]
    return out


def crd_schemas() -> dict[tuple[str, str], tuple[dict, str]]:
    """(apiVersion, kind) -> (strict schema, operator version) of every CRD in deploy/tests/crds."""
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = load_yaml(path)
        release = crd["metadata"].get("annotations", {}).get("operator.prometheus.io/version", "?")
        for version in crd["spec"]["versions"]:
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            schemas[key] = (strict(version["schema"]["openAPIV3Schema"]), release)
    return schemas


def check_crds(problems: Problems, documents: list[dict]) -> str:
    import jsonschema  # the venv's, with check-jsonschema

    schemas = crd_schemas()
    checked = 0
    releases = set()
    for document in documents:
        if not document["apiVersion"].startswith(CRD_GROUPS):
            continue
        where = f"k8s: {document['kind']}/{document['metadata']['name']}"
        found = schemas.get((document["apiVersion"], document["kind"]))
        if found is None:
            problems.append(f"{where}: no CRD for {document['apiVersion']} {document['kind']} in deploy/tests/crds")
            continue
        schema, release = found
        releases.add(release)
        checked += 1
        for error in sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in error.path) or "(root)"
            problems.append(f"{where}: {path}: {error.message} (prometheus-operator {release} CRD)")
    return f"{checked} objects against prometheus-operator {', '.join(sorted(releases)) or '?'} CRD schemas"
