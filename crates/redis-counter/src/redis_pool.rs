//! The pool of Redis connections: deadpool's managed pool, with a connection manager of our own.
//!
//! Why not deadpool-redis's manager: it checks every connection it hands out with a PING, a
//! second round trip for every `INCR`, and redis-rs gives it no other way to tell a dead
//! connection, because the task that drives the socket is hidden. This manager spawns that task
//! itself and marks the connection closed when it ends (Redis closed the socket, or it failed), so
//! handing out a connection costs no I/O, and a connection that died while idle (Redis restarted)
//! is replaced before a command is sent on it: that command is then certainly not applied.
//!
//! The connections are redis-rs `MultiplexedConnection`s, and a command holds a pooled connection
//! only while taking a handle on it ([`SharedConnection`] is a clone), not for its round trip:
//! concurrent commands share a few sockets and are pipelined on them, which is far cheaper per
//! `INCR` for Redis (one thread) and for this service than one socket per command in flight.

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, RedisError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::task::AbortOnDropHandle;

/// The pool of [`SharedConnection`]s.
pub(crate) type Pool = managed::Pool<Manager>;
pub(crate) type PoolError = managed::PoolError<RedisError>;

/// One Redis connection, shared by every clone (a handle, cheap to clone).
#[derive(Clone)]
pub(crate) struct SharedConnection {
    pub(crate) connection: MultiplexedConnection,
    driver: Arc<Driver>,
}

impl SharedConnection {
    /// The connection can no longer carry a command: its socket closed or failed, or a command
    /// on it failed without an answer from Redis ([`SharedConnection::retire`]).
    pub(crate) fn is_closed(&self) -> bool {
        self.driver.closed.load(Ordering::Acquire)
    }

    /// Stops the pool handing this connection out again (it is replaced by a new one). Commands
    /// already sent on it still get their answers.
    pub(crate) fn retire(&self) {
        self.driver.closed.store(true, Ordering::Release);
    }
}

/// The task that reads and writes the socket, and whether it has ended. Dropped with the last
/// handle, which closes the socket even if Redis never answers.
struct Driver {
    closed: Arc<AtomicBool>,
    _task: AbortOnDropHandle<()>,
}

/// Creates connections, and recycles them without a round trip.
pub(crate) struct Manager {
    info: ConnectionInfo,
}

impl Manager {
    pub(crate) fn new(info: ConnectionInfo) -> Self {
        Self { info }
    }

    async fn multiplex<S>(&self, stream: S) -> Result<SharedConnection, RedisError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Connection setup (AUTH, SELECT) happens here, bounded by the pool's create timeout;
        // every command is bounded by REDIS_COMMAND_TIMEOUT (redis_client.rs). redis-rs's own
        // defaults (1 s to connect, 500 ms per reply) would silently cap both, so they are off.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(None);
        let (connection, driver) =
            MultiplexedConnection::new_with_config(self.info.redis_settings(), stream, config)
                .await?;
        let closed = Arc::new(AtomicBool::new(false));
        let ended = closed.clone();
        let task = tokio::spawn(async move {
            coalesced(driver).await;
            ended.store(true, Ordering::Release);
        });
        Ok(SharedConnection {
            connection,
            driver: Arc::new(Driver {
                closed,
                _task: AbortOnDropHandle::new(task),
            }),
        })
    }
}

/// Runs a connection's socket task one scheduler turn late each time it is woken: the request
/// tasks that are ready meanwhile queue their commands first, so they go out in one write (and
/// their replies come back in one read). A write to a local Redis costs far more CPU (the kernel
/// delivers it and wakes Redis) than the few microseconds this holds a command back.
async fn coalesced(driver: impl Future<Output = ()>) {
    let mut driver = std::pin::pin!(driver);
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if !yielded {
            yielded = true;
            // yield_now hands the waker to the scheduler, which wakes it once the worker has
            // run its other ready tasks.
            if std::pin::pin!(tokio::task::yield_now())
                .poll(cx)
                .is_pending()
            {
                return std::task::Poll::Pending;
            }
        }
        yielded = false;
        driver.as_mut().poll(cx)
    })
    .await
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ConnectionInfo's Debug would show the password.
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl managed::Manager for Manager {
    type Type = SharedConnection;
    type Error = RedisError;

    /// Connects (bounded by the pool's create timeout) and starts the connection's task.
    async fn create(&self) -> Result<SharedConnection, RedisError> {
        match self.info.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                // Commands are already batched per write by the connection's task; Nagle would
                // only hold a lone INCR back.
                stream.set_nodelay(true)?;
                self.multiplex(stream).await
            }
            ConnectionAddr::Unix(path) => {
                self.multiplex(tokio::net::UnixStream::connect(path).await?)
                    .await
            }
            // redis_url refuses TLS at startup.
            other => Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "unsupported Redis address",
                format!("{other}"),
            ))),
        }
    }

    async fn recycle(
        &self,
        connection: &mut SharedConnection,
        _: &Metrics,
    ) -> RecycleResult<RedisError> {
        if connection.is_closed() {
            Err(RecycleError::message("the Redis connection is closed"))
        } else {
            Ok(())
        }
    }
}
