//! Every eye change is a span named `linus-eye` / `torvalds-eye` with `robot` and `eye.on`, a child
//! of the request span (captured by a tracing layer; the OTLP export is the telemetry crate's job).

// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Default)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

#[derive(Debug, Clone)]
struct Captured {
    fields: Fields,
    parent_otel_name: Option<String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let Some(span) = ctx.span(id) else { return };
        let parent_otel_name = span.parent().and_then(|parent| {
            parent
                .extensions()
                .get::<Fields>()
                .and_then(|f| f.0.get("otel.name").cloned())
        });
        span.extensions_mut().insert(fields.clone());
        self.0.lock().unwrap().push(Captured {
            fields,
            parent_otel_name,
        });
    }
}

#[tokio::test]
async fn eye_changes_are_child_spans_of_the_request() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let (app, _, _) = sim_app(Duration::from_secs(30));
    assert_eq!(get(&app, "/linuson").await.0, StatusCode::OK);
    assert_eq!(
        post_json(&app, "/api/robots/torvalds/eye", json!({"on": false}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(get(&app, "/forward").await.0, StatusCode::OK);

    let spans = capture.0.lock().unwrap().clone();
    let eyes: Vec<&Captured> = spans
        .iter()
        .filter(|s| {
            s.fields
                .0
                .get("otel.name")
                .is_some_and(|n| n.ends_with("-eye"))
        })
        .collect();
    assert_eq!(
        eyes.len(),
        2,
        "one span per eye change, none for driving: {spans:#?}"
    );

    let linus = &eyes[0].fields.0;
    assert_eq!(linus["otel.name"], "linus-eye");
    assert_eq!(linus["robot"], "linus");
    assert_eq!(linus["eye.on"], "true");
    assert_eq!(eyes[0].parent_otel_name.as_deref(), Some("GET /linuson"));

    let torvalds = &eyes[1].fields.0;
    assert_eq!(torvalds["otel.name"], "torvalds-eye");
    assert_eq!(torvalds["robot"], "torvalds");
    assert_eq!(torvalds["eye.on"], "false");
    assert_eq!(
        eyes[1].parent_otel_name.as_deref(),
        Some("POST /api/robots/{robot}/eye")
    );
}
