"""The kustomize output of deploy/k8s: one namespace, the PrometheusRule equal to the Prometheus rules,
a Deployment, Service and ServiceMonitor per service, pod hardening and probes, the prober's config
equal to Compose's (`k8s`); and the same output without prometheus-operator's CRD objects, for
kubernetes-validate, which has no schemas for them (`k8s-core`)."""

from __future__ import annotations

from .common import OUR_SERVICES, ROOT, Problems, load_yaml, rule_groups

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
    compose_config = load_yaml(ROOT / "deploy/url-prober/config.yml")
    k8s_config = load_yaml(ROOT / "deploy/k8s/url-prober-config.yml")
    problems.check(compose_config == k8s_config, "k8s: url-prober-config.yml differs from deploy/url-prober/config.yml")
    return f"{len(documents)} Kubernetes objects"
