//! A failed operation on a `tracing` span, recorded as the semantic conventions' "Recording
//! errors" document asks: `error.type`, status `Error` with a description, and an `exception`
//! event. tracing-opentelemetry maps only some of this from fields (`otel.status_code`), and its
//! error-field mapping adds attributes of its own (`error.chain`, span-level `exception.*`) that
//! no convention defines, so the span is written through the OpenTelemetry API instead.

use crate::trace::redact::limited;
use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Marks `span` failed: `error.type` = `error_type` (a low-cardinality class, listed per span in
/// docs/semconv/registry.yaml), status `Error` with the error's message as its description, and
/// an `exception` event with `exception.type` (the Rust type's path) and `exception.message`.
/// The message is cut to the attribute length limit like every other value. Nothing happens
/// when the span is not recorded.
pub fn record_error<E: std::error::Error>(
    span: &tracing::Span,
    error_type: &'static str,
    error: &E,
) {
    if span.is_disabled() {
        return;
    }
    let message = error.to_string();
    let message = limited(&message).to_owned();
    span.set_attribute(semconv::ERROR_TYPE, error_type);
    span.add_event(
        "exception",
        vec![
            KeyValue::new(semconv::EXCEPTION_TYPE, std::any::type_name::<E>()),
            KeyValue::new(semconv::EXCEPTION_MESSAGE, message.clone()),
        ],
    );
    span.set_status(Status::error(message));
}
