//! Nothing to link: this crate holds the tests of the whole, each against real parts on loopback:
//!
//! - `tests/live_stack/`: what `just up` runs (the services, Prometheus with the real config and
//!   rules, Alertmanager, the exporters) working together: every Grafana panel query returns data,
//!   exemplar panels have exemplars, trace -> metrics links select the span's service, alerts route.
//! - `tests/openmetrics.rs`: Prometheus parses every service's /metrics as OpenMetrics.
//! - `tests/config_contract.rs`: every setting Compose and Kubernetes pass is one the binary reads.
//! - `tests/first_run.rs`: a machine with only Rust gets one list of what is missing.
//! - `tests/repo_hygiene.rs`: no credential committed.
