//! The OpenTelemetry side: OTLP exporter (gRPC: `otlp::grpc`; HTTP: opentelemetry-otlp's), sampler,
//! resource, W3C propagators. Builds the trace side of what `init` installs (`installed::Traces`).

use crate::config::{OtlpProtocol, SamplerConfig, TelemetryConfig, TelemetryError};
use crate::trace::direct_span::DirectSpans;
use crate::trace::installed::Traces;
use crate::trace::otlp::grpc::GrpcExporter;
use crate::trace::processor::{BatchSettings, BoundedBatchProcessor, Executor, SdkExporter};
use crate::trace::sampling::{self, ServerTracer};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_semantic_conventions::resource as semconv;
use std::collections::HashMap;

/// The instrumentation scope of the spans this crate makes (server spans, client spans).
const SCOPE: &str = "telemetry";

/// Installs the propagators always (so incoming trace context is honoured and passed on even
/// with the SDK disabled) and, when traces are enabled, the global tracer provider; returns the
/// trace side for `installed`.
pub(crate) fn install(config: &TelemetryConfig) -> Result<Option<Traces>, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    if !config.traces_enabled {
        return Ok(None);
    }

    let settings = BatchSettings {
        max_queue_size: config.max_queue_size,
        max_export_batch_size: config.max_export_batch_size,
        schedule_delay: config.schedule_delay,
        value_length_limit: config.attribute_value_length_limit,
    };
    let mut direct = None;
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler(config.sampler))
        .with_id_generator(sampling::HandedOverIds)
        .with_resource(resource(config));
    let provider = match config.protocol {
        OtlpProtocol::Grpc => {
            let (endpoint, timeout, headers) = (
                config.endpoint.clone(),
                config.export_timeout,
                config.headers.clone(),
            );
            let processor = BoundedBatchProcessor::new(
                move || GrpcExporter::new(&endpoint, timeout, &headers),
                settings,
                Executor::OwnRuntime,
            )
            .map_err(TelemetryError::Exporter)?;
            // Sampled server spans and `ClientSpan`s skip the SDK and join the same queue,
            // encoded, under the scope and limits the SDK's spans have.
            direct = Some(DirectSpans {
                queue: processor.queue(),
                scope: InstrumentationScope::builder(SCOPE).build(),
                limits: opentelemetry_sdk::trace::Config::default().span_limits,
                value_length_limit: config.attribute_value_length_limit,
            });
            provider.with_span_processor(processor)
        }
        OtlpProtocol::HttpProtobuf => {
            let (endpoint, timeout) = (config.endpoint.clone(), config.export_timeout);
            let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
            // Built on the export thread, outside any tokio runtime, where the blocking client
            // must live.
            provider.with_span_processor(
                BoundedBatchProcessor::new(
                    move || {
                        let client = reqwest::blocking::Client::builder()
                            .timeout(timeout)
                            .build()
                            .map_err(|e| e.to_string())?;
                        opentelemetry_otlp::SpanExporter::builder()
                            .with_http()
                            .with_http_client(client)
                            .with_endpoint(endpoint)
                            .with_timeout(timeout)
                            .with_headers(headers)
                            .build()
                            .map(SdkExporter)
                            .map_err(|e| e.to_string())
                    },
                    settings,
                    Executor::Plain,
                )
                .map_err(TelemetryError::Exporter)?,
            )
        }
    }
    .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(Some(Traces {
        server: ServerTracer {
            tracer: provider.tracer(SCOPE),
            sampler: sampler(config.sampler),
        },
        provider,
        direct,
    }))
}

fn sampler(config: SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

/// Resource attribute naming the Prometheus job of this service (not a semantic convention).
pub(crate) const PROMETHEUS_JOB: &str = "prometheus.job";

/// `service.*`, `telemetry.sdk.*` (the SDK's own detector: name, language, version), `host.name`,
/// [`PROMETHEUS_JOB`], then `OTEL_RESOURCE_ATTRIBUTES`, which may override any of them except
/// `service.name`.
fn resource(config: &TelemetryConfig) -> Resource {
    let mut attributes = vec![
        KeyValue::new(semconv::SERVICE_VERSION, config.service_version.clone()),
        KeyValue::new(semconv::SERVICE_INSTANCE_ID, instance_id()),
        // The Prometheus job of this service's metrics (job = service name = crate name). Grafana's
        // trace -> metrics links map it to the job label: Jaeger's v1 API, which Grafana's Jaeger
        // datasource reads, turns service.name into the process's serviceName, not a tag Grafana
        // sees (docs/ARCHITECTURE.md, "Trace to metrics"). OTEL_RESOURCE_ATTRIBUTES may override it.
        KeyValue::new(PROMETHEUS_JOB, config.service_name.clone()),
    ];
    if let Some(host) = gethostname::gethostname()
        .into_string()
        .ok()
        .filter(|h| !h.is_empty())
    {
        attributes.push(KeyValue::new(semconv::HOST_NAME, host));
    }
    attributes.extend(
        config
            .resource_attributes
            .iter()
            .filter(|(k, _)| k != semconv::SERVICE_NAME)
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_service_name(config.service_name.clone())
        .with_attributes(attributes)
        .build()
}

/// `service.instance.id`: a random UUID (version 4), new for every process, so two replicas of
/// a service are two instances in Jaeger, as the semantic conventions recommend.
fn instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::{Key, Value};

    fn config(vars: &[(&str, &str)]) -> TelemetryConfig {
        TelemetryConfig::from_lookup("web-flask-equivalent", "0.1.0", |key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("valid config")
    }

    #[test]
    fn resource_carries_the_prometheus_job_beside_the_service_name() {
        let default = resource(&config(&[]));
        assert_eq!(
            default.get(&Key::new("service.name")),
            Some(Value::from("web-flask-equivalent"))
        );
        assert_eq!(
            default.get(&Key::new(PROMETHEUS_JOB)),
            Some(Value::from("web-flask-equivalent"))
        );
        // OTEL_RESOURCE_ATTRIBUTES may name another job (a Prometheus scraping under other names).
        let renamed = resource(&config(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "prometheus.job=web",
        )]));
        assert_eq!(
            renamed.get(&Key::new(PROMETHEUS_JOB)),
            Some(Value::from("web"))
        );
    }
}
