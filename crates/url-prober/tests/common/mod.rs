//! Test targets on 127.0.0.1: well-behaved and misbehaving HTTP servers.
#![allow(dead_code)] // each test file uses a different subset

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `/` 200, `/fail` 500, `/loop` redirects to itself, `/endless` streams a body forever,
/// `/created` 201.
pub async fn http_target() -> SocketAddr {
    let router = Router::new()
        .route("/", get(|| async { "ok\n" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom\n") }),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/created", get(|| async { (StatusCode::CREATED, "new\n") }))
        .route(
            "/endless",
            get(|| async {
                let chunk = bytes_chunk();
                Body::from_stream(futures::stream::repeat_with(move || {
                    Ok::<_, std::io::Error>(chunk.clone())
                }))
            }),
        );
    testkit::spawn_router(router).await
}

fn bytes_chunk() -> axum::body::Bytes {
    axum::body::Bytes::from(vec![b'x'; 64 * 1024])
}

/// Accepts TCP connections and never answers; counts the connections accepted.
pub async fn hanging_target() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted)
}

/// A loopback port nobody listens on.
pub fn closed_port() -> u16 {
    testkit::free_port()
}

pub async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url)
        .await
        .expect("request")
        .json()
        .await
        .expect("json body")
}

pub async fn get_text(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("request")
        .text()
        .await
        .expect("body")
}

/// The `/queryurl` entry of `url`, once it has a result.
pub fn report<'a>(reports: &'a serde_json::Value, url: &str) -> Option<&'a serde_json::Value> {
    reports
        .as_array()?
        .iter()
        .find(|r| r["url"] == url && r["result"] != "pending")
}
