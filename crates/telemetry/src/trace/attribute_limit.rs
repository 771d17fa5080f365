//! The attribute value length limit (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` /
//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`): string values longer than the limit are cut, counted in
//! characters as the specification counts them. The SDK has no such limit, so the span processor
//! applies it to every span before it is queued, and the OTLP/gRPC encoder while it writes.
//!
//! Plain functions of a value and a limit: the installed limit (`installed`) is passed in by
//! whoever holds it, so the processor and the encoder read no process-wide state per span.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// `value` cut to at most `limit` characters (counted as the spec does: one per `char`).
pub(crate) fn truncate(value: &str, limit: usize) -> &str {
    if value.len() <= limit {
        return value; // at most `limit` bytes, so at most `limit` characters
    }
    match value.char_indices().nth(limit) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

fn limit_value(value: &mut Value, limit: usize) {
    match value {
        Value::String(s) if s.as_str().len() > limit => {
            *s = StringValue::from(truncate(s.as_str(), limit).to_owned());
        }
        Value::Array(Array::String(items)) => {
            for s in items.iter_mut() {
                if s.as_str().len() > limit {
                    *s = StringValue::from(truncate(s.as_str(), limit).to_owned());
                }
            }
        }
        _ => {}
    }
}

fn limit_attributes(attributes: &mut [KeyValue], limit: usize) {
    for attribute in attributes {
        limit_value(&mut attribute.value, limit);
    }
}

/// Applies the value length `limit` to every attribute of a finished span (its events and links
/// included), before it is queued for export.
pub(crate) fn limit_span_to(span: &mut SpanData, limit: usize) {
    limit_attributes(&mut span.attributes, limit);
    for event in span.events.events.iter_mut() {
        limit_attributes(&mut event.attributes, limit);
    }
    for link in span.links.links.iter_mut() {
        limit_attributes(&mut link.attributes, limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_keeps_them_whole() {
        assert_eq!(truncate("abcdef", 4), "abcd");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("ééééé", 3), "ééé");
        assert_eq!(truncate("x", 0), "");
    }
}
