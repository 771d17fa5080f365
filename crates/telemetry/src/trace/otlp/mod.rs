//! The OTLP/gRPC span exporter: spans written straight into their protobuf bytes (`encode`),
//! sent over tonic and retried as opentelemetry-otlp retries (`grpc`). With OTLP/HTTP,
//! opentelemetry-otlp's own exporter is used instead (`tracer`).

pub(crate) mod encode;
pub(crate) mod grpc;
