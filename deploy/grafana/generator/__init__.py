"""The modules of the dashboard generator, deploy/grafana/dashboards.py:

- panels: the building blocks (queries, time series, stats, state timelines, tables, the grid layout
  and the dashboard around them) and the conventions they carry;
- trace_links: links from a panel to the traces of its service in Jaeger (through Grafana Explore);
- one module per dashboard family: overview, services (web-flask-equivalent, redis-counter,
  robot-control, url-prober and their shared RED panels), infrastructure, error_budgets (the SLO
  dashboard, from deploy/slo), red_from_spans (Jaeger's spanmetrics).
"""
