"""The cross-file checks of deploy/tests/check_static.py, one module per part of the stack:

- common: the repository root, our services and ports, Problems, the files several checks read;
- compose: docker-compose.yml, its host ports and optional variables; dockerfile: the Dockerfile;
- prometheus: scrape targets, alert rules and inhibitions;
- grafana: dashboards, datasources and the `dashboard-promql` queries, with grafana_provisioning
  (Grafana's interpolation of provisioned files) and grafana_trace_to_metrics (what a span's
  "Related metrics" link queries);
- jaeger: deploy/jaeger/config.yml's chain from OTLP to the Monitor tab;
- native: the native stack (`just dev`, `just load`); k8s: the kustomize output.
"""
