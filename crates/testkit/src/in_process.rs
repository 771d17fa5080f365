//! A service started in this test process through its `run(config, listener, shutdown)` entry
//! point, on a free loopback port: no binary, no second process, stopped by dropping it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shutdown future the service gets: it resolves when the test stops or drops the service.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A running service; dropping it resolves its shutdown future (the service drains and stops).
#[derive(Debug)]
pub struct InProcessService<E> {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), E>>>,
}

impl<E: Send + 'static> InProcessService<E> {
    /// Binds 127.0.0.1:0 and spawns `run(config, listener, shutdown)` on this runtime.
    pub async fn start<C, F, Fut>(config: C, run: F) -> Self
    where
        F: FnOnce(C, tokio::net::TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel();
        let shutdown: Shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(run(config, listener, shutdown));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resolves the shutdown future and waits for `run` to return.
    pub async fn stop(mut self) -> Result<(), E> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("the service task panicked"),
            None => Ok(()),
        }
    }
}

impl<E> Drop for InProcessService<E> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
