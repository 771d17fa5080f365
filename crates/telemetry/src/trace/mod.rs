//! Traces: the tracer provider and everything between a span and the collector.
//!
//! - `installed`: everything `init` installs, in one place, and what happens before it;
//!   [`flush_spans`], the one flush.
//! - `tracer`: builds the provider (sampler, resource, W3C propagators);
//!   `sampling`: the server spans' sampler and the ids it decided on, handed to the SDK.
//! - `processor`: our bounded batch processor (drops counted); `otlp`: the OTLP/gRPC exporter,
//!   writing each span's protobuf once (`otlp::encode`, `otlp::grpc`).
//! - `direct_span`: with gRPC, per-request spans made without the SDK and encoded as they end;
//!   `client_span`: [`ClientSpan`], and [`HttpClientSpan`] for outgoing HTTP requests.
//! - `redact`: the one rule set for URLs shown anywhere (credentials, fragment, sensitive query
//!   values), and `limited`, a value cut to the installed length limit; `attribute_limit`: the
//!   cutting itself, as plain functions of a value and a limit (the processor and the encoder).
//! - `propagation`: W3C `traceparent`/`baggage` in and out ([`InjectContext`] for reqwest).
//! - `span_errors`: [`record_error`], a failure on a `tracing` span as the conventions record it.
//! - `logs`: the `tracing` subscriber: JSON or pretty log lines carrying the current trace and
//!   span ids, beside the OpenTelemetry layer.
//!
//! Above `config`, below `metrics` and `http`: nothing here uses those rooms (the processor counts
//! its dropped spans through the `metrics` facade, which the recorder installed by `metrics/`
//! describes).

pub(crate) mod attribute_limit;
pub(crate) mod client_span;
pub(crate) mod direct_span;
pub(crate) mod installed;
pub(crate) mod logs;
pub(crate) mod otlp;
pub(crate) mod processor;
pub(crate) mod propagation;
pub(crate) mod redact;
pub(crate) mod sampling;
pub(crate) mod span_errors;
pub(crate) mod tracer;

pub use client_span::{ClientSpan, ClientSpanTemplate, HttpClientSpan};
pub use installed::flush_spans;
pub use propagation::InjectContext;
pub use redact::{SensitiveQuery, redact_url, redact_url_with};
pub use span_errors::record_error;
