//! HTTP serving: the tower layer that gives every request one server span and one set of RED
//! metrics, and the ops routes.
//!
//! - `layer`: [`HttpLayer`], its service ([`HttpService`]) and its response future
//!   ([`ResponseFuture`]).
//! - `route_cache`: what is kept per route template (labels, span names, metric series).
//! - `server_span`: the server span, started with the sampling decision taken first;
//!   `span_attributes`: its semantic-convention attributes, built only when it is recorded.
//! - `ops`: [`ops_router`], [`ops_router_with`]: `/metrics`, `/healthz`, `/readyz`;
//!   `scrape`: the `/metrics` body in each format, and [`render_metrics`].
//!
//! The top room: it uses `trace` and `metrics`, and nothing below uses it.

pub(crate) mod layer;
pub(crate) mod ops;
pub(crate) mod route_cache;
pub(crate) mod scrape;
pub(crate) mod server_span;
pub(crate) mod span_attributes;

pub use layer::{HttpLayer, HttpService, ResponseFuture};
pub use ops::{Exposition, Readiness, always_ready, ops_router, ops_router_with};
pub use scrape::{render_exposition, render_metrics};
