//! Graceful shutdown: resolve on SIGINT or SIGTERM, then flush spans so the last requests'
//! traces reach the collector before the process exits.

/// Completes on ctrl-c or SIGTERM (what `docker stop` and Kubernetes send). Pass it to
/// `axum::serve(..).with_graceful_shutdown(..)`.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, draining requests"),
        () = terminate => tracing::info!("SIGTERM received, draining requests"),
    }
    flush_spans().await;
}

/// Exports buffered spans without blocking the runtime.
pub async fn flush_spans() {
    let _ = tokio::task::spawn_blocking(crate::tracer::flush).await;
}

/// How long in-flight requests get to finish after the shutdown signal.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a service could not listen or stopped serving; every service's error type wraps it.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Binds the listening socket, naming the address when that fails (busy port, no permission).
pub async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `app` until SIGINT/SIGTERM, then drains in-flight requests (at most [`DRAIN_TIMEOUT`]).
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> Result<(), ServeError> {
    serve_until(listener, app, shutdown_signal()).await
}

/// Like [`serve`], stopping when `signal` completes (tests and embedders pass their own).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        signal.await;
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    tokio::pin!(server);
    let drain_deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = &mut server => result.map_err(ServeError::Serve),
        () = drain_deadline => {
            tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still running after the drain timeout; exiting anyway");
            Ok(())
        }
    }
}
