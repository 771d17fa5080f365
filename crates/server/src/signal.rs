//! The shutdown future of a real process: SIGINT (ctrl-c) or SIGTERM (what `docker stop` and
//! Kubernetes send). It only resolves; flushing spans is the telemetry guard's job when `main`
//! drops it after the service has drained.

/// Completes on SIGINT or SIGTERM.
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
}
