use super::*;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<TelemetryConfig, TelemetryError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    TelemetryConfig::from_lookup("svc", "1.0.0", |k| map.get(k).cloned())
}

#[test]
fn export_headers_are_decoded_and_bad_ones_refused_without_echoing_values() {
    let c = config(&[(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "API-Key=s3cr%3Dt, x-tenant = a b ,", // secrets-check: allow (test data)
    )])
    .unwrap();
    assert_eq!(
        c.headers,
        vec![
            ("api-key".to_owned(), "s3cr=t".to_owned()),
            ("x-tenant".to_owned(), "a b".to_owned())
        ]
    );
    let signal = config(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"),
    ])
    .unwrap();
    assert_eq!(signal.headers, vec![("b".to_owned(), "2".to_owned())]);
    for bad in ["secret", "bad key=x", "k=%0Asecret"] {
        let error = config(&[("OTEL_EXPORTER_OTLP_HEADERS", bad)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
}

#[test]
fn defaults_follow_the_spec() {
    let c = config(&[]).unwrap();
    assert_eq!(c.service_name, "svc");
    assert_eq!(c.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(c.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(c.log_format, LogFormat::Json);
    assert!(c.traces_enabled);
    // The one deliberate departure (see DEFAULT_MAX_QUEUE_SIZE): a queue that full load on two
    // cores does not overflow. Batch size and delay are the specification's.
    assert_eq!(c.max_queue_size, 8192);
    assert_eq!(c.max_export_batch_size, 512);
    assert_eq!(c.schedule_delay, Duration::from_millis(1000));
    let spec = config(&[("OTEL_BSP_MAX_QUEUE_SIZE", "2048")]).unwrap();
    assert_eq!(spec.max_queue_size, 2048);
}

#[test]
fn generic_endpoint_gets_the_signal_path_only_for_http() {
    let http = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318/")]).unwrap();
    assert_eq!(http.endpoint, "http://jaeger:4318/v1/traces");
    let grpc = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ])
    .unwrap();
    assert_eq!(grpc.endpoint, "http://jaeger:4317");
    let signal = config(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://x:1/custom")]).unwrap();
    assert_eq!(signal.endpoint, "http://x:1/custom");
}

#[test]
fn sdk_disabled_and_exporter_none_turn_tracing_off() {
    assert!(
        !config(&[("OTEL_SDK_DISABLED", "true")])
            .unwrap()
            .traces_enabled
    );
    assert!(
        !config(&[("OTEL_TRACES_EXPORTER", "none")])
            .unwrap()
            .traces_enabled
    );
}

#[test]
fn samplers_and_resource_attributes_parse() {
    let c = config(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=dev,team=a%20b",
        ),
        ("OTEL_SERVICE_NAME", "renamed"),
    ])
    .unwrap();
    assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
    assert_eq!(
        c.resource_attributes,
        vec![
            ("deployment.environment".to_owned(), "dev".to_owned()),
            ("team".to_owned(), "a b".to_owned())
        ]
    );
    assert_eq!(c.service_name, "renamed");
}

#[test]
fn attribute_limits_and_sensitive_names_parse() {
    let c = config(&[]).unwrap();
    assert_eq!(c.attribute_value_length_limit, 4096);
    assert!(c.sensitive_query_parameters.is_empty());
    let c = config(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        (
            "OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS",
            " token , api_key,",
        ),
    ])
    .unwrap();
    assert_eq!(c.attribute_value_length_limit, 100);
    assert_eq!(c.sensitive_query_parameters, vec!["token", "api_key"]);
    let c = config(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "50"),
    ])
    .unwrap();
    assert_eq!(
        c.attribute_value_length_limit, 50,
        "the span-specific one wins"
    );
}

#[test]
fn service_name_comes_from_resource_attributes_unless_set_directly() {
    let c = config(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs")]).unwrap();
    assert_eq!(c.service_name, "from-attrs");
    let c = config(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ("OTEL_SERVICE_NAME", "direct"),
    ])
    .unwrap();
    assert_eq!(c.service_name, "direct");
}

#[test]
fn every_bad_value_names_its_variable() {
    let cases: &[(&str, &str)] = &[
        ("LOG_FORMAT", "xml"),
        ("OTEL_SDK_DISABLED", "maybe"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector:4318"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-3"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
        ("OTEL_TRACES_EXPORTER", "jaeger"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4k"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
        (
            "OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS",
            "token,a=b",
        ),
    ];
    for (var, value) in cases {
        let mut vars = vec![(*var, *value)];
        if *var == "OTEL_TRACES_SAMPLER_ARG" {
            vars.push(("OTEL_TRACES_SAMPLER", "traceidratio"));
        }
        let err = config(&vars).expect_err(var).to_string();
        assert!(err.contains(var), "{var}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}
