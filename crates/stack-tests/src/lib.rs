//! Nothing to link: this crate holds `tests/live_stack.rs`, the end-to-end check that what
//! `just up` runs (the services, Prometheus with the real config and rules, Alertmanager, the
//! exporters and every Grafana dashboard query) works together, run natively on loopback.
