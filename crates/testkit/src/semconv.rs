//! The OpenTelemetry semantic conventions our spans follow, as tables of required and recommended
//! attributes, for assertions on spans an OTLP receiver got; and our own registry
//! (docs/semconv/registry.yaml, [`registry`]): the attributes we define and the full list of what
//! each of our spans carries, so that an attribute nobody registered fails a test.
//!
//! Names come from `opentelemetry-semantic-conventions` (the version matching the SDK: semantic
//! conventions 1.42); requirement levels and types from that version's documents
//! (docs/http/http-spans.md, docs/db/redis.md, docs/general/recording-errors.md,
//! docs/exceptions/exceptions-spans.md, docs/registry/entities/{service,telemetry,host,
//! deployment}.md). Opt-in attributes are not listed.

mod registry;

pub use registry::{Group, REGISTRY_PATH, Registry, RequirementLevel, registry};

use crate::otlp::AttributeValue;
use opentelemetry_semantic_conventions::attribute as a;
use std::collections::BTreeMap;

/// A requirement level of the conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Required,
    /// Required when the condition (in words) holds.
    ConditionallyRequired(&'static str),
    Recommended,
}

/// The OTLP value type the conventions give an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Str,
    Int,
}

/// One convention: the attributes a span (or resource) of that kind carries.
#[derive(Debug)]
pub struct Convention {
    pub name: &'static str,
    pub attributes: &'static [(&'static str, Level, Type)],
}

use Level::{ConditionallyRequired as If, Recommended, Required};
use Type::{Int, Str};

/// HTTP server span (semconv 1.42 "HTTP server span").
pub const HTTP_SERVER: Convention = Convention {
    name: "HTTP server span",
    attributes: &[
        (a::HTTP_REQUEST_METHOD, Required, Str),
        (a::URL_PATH, Required, Str),
        (a::URL_SCHEME, Required, Str),
        (a::ERROR_TYPE, If("the request ended with an error"), Str),
        (
            a::HTTP_REQUEST_METHOD_ORIGINAL,
            If("the method is not a known one"),
            Str,
        ),
        (a::HTTP_RESPONSE_STATUS_CODE, If("a response was sent"), Int),
        (a::HTTP_ROUTE, If("a route matched"), Str),
        (
            a::SERVER_PORT,
            If("server.address is set and the port known"),
            Int,
        ),
        (a::URL_QUERY, If("the request had a query"), Str),
        (a::CLIENT_ADDRESS, Recommended, Str),
        (a::NETWORK_PEER_ADDRESS, Recommended, Str),
        (a::NETWORK_PEER_PORT, Recommended, Int),
        (a::NETWORK_PROTOCOL_VERSION, Recommended, Str),
        (a::SERVER_ADDRESS, Recommended, Str),
        (a::USER_AGENT_ORIGINAL, Recommended, Str),
    ],
};

/// HTTP client span (semconv 1.42 "HTTP client span").
pub const HTTP_CLIENT: Convention = Convention {
    name: "HTTP client span",
    attributes: &[
        (a::HTTP_REQUEST_METHOD, Required, Str),
        (a::SERVER_ADDRESS, Required, Str),
        (a::SERVER_PORT, Required, Int),
        (a::URL_FULL, Required, Str),
        (a::ERROR_TYPE, If("the request ended with an error"), Str),
        (
            a::HTTP_REQUEST_METHOD_ORIGINAL,
            If("the method is not a known one"),
            Str,
        ),
        (
            a::HTTP_RESPONSE_STATUS_CODE,
            If("a response was received"),
            Int,
        ),
        (
            a::HTTP_REQUEST_RESEND_COUNT,
            If("the request was resent"),
            Int,
        ),
        (a::NETWORK_PEER_ADDRESS, Recommended, Str),
        (a::NETWORK_PEER_PORT, Recommended, Int),
        (a::NETWORK_PROTOCOL_VERSION, Recommended, Str),
    ],
};

/// Redis client span (semconv 1.42 docs/db/redis.md, `db.system.name` from the database spans).
pub const REDIS_CLIENT: Convention = Convention {
    name: "Redis client span",
    attributes: &[
        (a::DB_SYSTEM_NAME, Required, Str),
        (a::DB_OPERATION_NAME, Required, Str),
        (a::DB_NAMESPACE, If("the database index is known"), Str),
        (
            a::DB_RESPONSE_STATUS_CODE,
            If("Redis answered with an error"),
            Str,
        ),
        (a::ERROR_TYPE, If("the operation failed"), Str),
        (
            a::SERVER_PORT,
            If("server.address is set and the port is not 6379"),
            Int,
        ),
        (
            a::DB_OPERATION_BATCH_SIZE,
            If("a batch of two or more operations"),
            Int,
        ),
        (a::DB_QUERY_TEXT, Recommended, Str),
        (a::DB_STORED_PROCEDURE_NAME, If("a Lua script"), Str),
        (a::NETWORK_PEER_ADDRESS, Recommended, Str),
        (a::NETWORK_PEER_PORT, Recommended, Int),
        (a::SERVER_ADDRESS, Recommended, Str),
    ],
};

/// The resource (semconv 1.42 entities: service, telemetry, host, deployment).
pub const RESOURCE: Convention = Convention {
    name: "resource",
    attributes: &[
        (a::SERVICE_NAME, Required, Str),
        (a::SERVICE_INSTANCE_ID, Required, Str),
        (a::SERVICE_NAMESPACE, If("the deployment names one"), Str),
        (
            a::DEPLOYMENT_ENVIRONMENT_NAME,
            If("the deployment names one"),
            Str,
        ),
        (a::SERVICE_VERSION, Recommended, Str),
        (a::TELEMETRY_SDK_LANGUAGE, Required, Str),
        (a::TELEMETRY_SDK_NAME, Required, Str),
        (a::TELEMETRY_SDK_VERSION, Required, Str),
        (a::HOST_NAME, Recommended, Str),
    ],
};

/// Recording errors (semconv 1.42 docs/general/recording-errors.md), for spans of no other
/// convention (the robots' eye spans): a failed operation sets `error.type` and status Error.
pub const RECORDING_ERRORS: Convention = Convention {
    name: "recording errors",
    attributes: &[(a::ERROR_TYPE, If("the operation failed"), Str)],
};

/// The `exception` span event (semconv 1.42 docs/exceptions/exceptions-spans.md): at least one of
/// `exception.type` and `exception.message`, `exception.stacktrace` recommended.
pub const EXCEPTION_EVENT: Convention = Convention {
    name: "exception event",
    attributes: &[
        (a::EXCEPTION_TYPE, If("exception.message is not set"), Str),
        (a::EXCEPTION_MESSAGE, If("exception.type is not set"), Str),
        (a::EXCEPTION_STACKTRACE, Recommended, Str),
    ],
};

/// Every table above: the upstream attributes a span of ours may carry (the registry's `ref`s
/// must resolve to one of these or to an attribute the registry defines).
pub const UPSTREAM: [&Convention; 5] = [
    &HTTP_SERVER,
    &HTTP_CLIENT,
    &REDIS_CLIENT,
    &RESOURCE,
    &RECORDING_ERRORS,
];

/// The type the upstream tables give `key`, if one lists it.
pub fn upstream_type(key: &str) -> Option<Type> {
    UPSTREAM
        .iter()
        .flat_map(|c| c.attributes.iter())
        .find(|(k, ..)| *k == key)
        .map(|(_, _, kind)| *kind)
}

impl Convention {
    /// Panics naming every listed attribute that `attributes` lacks or carries with the wrong
    /// type, except those in `exempt`: (key, why it does not apply here).
    pub fn assert_followed(
        &self,
        attributes: &BTreeMap<String, AttributeValue>,
        exempt: &[(&str, &str)],
    ) {
        for (key, _) in exempt {
            assert!(
                self.attributes.iter().any(|(k, ..)| k == key),
                "{}: exempted {key} is not in the table",
                self.name
            );
        }
        let mut problems = Vec::new();
        for (key, level, kind) in self.attributes {
            if exempt.iter().any(|(k, _)| k == key) {
                continue;
            }
            match (attributes.get(*key), kind) {
                (None, _) => problems.push(format!("missing {key} ({level:?})")),
                (Some(AttributeValue::String(s)), Type::Str) if !s.is_empty() => {}
                (Some(AttributeValue::Int(_)), Type::Int) => {}
                (Some(other), _) => problems.push(format!("{key} = {other:?}, expected {kind:?}")),
            }
        }
        assert!(
            problems.is_empty(),
            "{} does not follow the conventions: {problems:#?}\nattributes: {attributes:#?}",
            self.name
        );
    }
}
