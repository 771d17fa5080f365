//! The pigpio driver: GPIO on a remote Raspberry Pi through the pigpio daemon's socket interface
//! (the wire format is in [`protocol`]).
//!
//! One connection per robot, opened lazily and replaced after any I/O failure, so a restarted
//! daemon or a Pi that was offline is picked up by the next command. Connect and every exchange
//! are bounded by a timeout: a dead robot costs a request at most that long, never a hang.

pub mod protocol;

use super::{Driver, DriverError, PinOp};
use futures::future::BoxFuture;
use protocol::FRAME_LEN;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

#[derive(Debug)]
pub struct PigpioDriver {
    addr: String,
    timeout: Duration,
    /// Sent on every new connection (output modes, PWM range).
    setup: Vec<PinOp>,
    connection: Mutex<Option<TcpStream>>,
}

impl PigpioDriver {
    /// `addr` is `host:port`; nothing is connected until the first command.
    pub fn new(addr: impl Into<String>, timeout: Duration, setup: Vec<PinOp>) -> Self {
        Self {
            addr: addr.into(),
            timeout,
            setup,
            connection: Mutex::new(None),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn connect(&self) -> Result<TcpStream, DriverError> {
        let connect_error = |reason: String| DriverError::Connect {
            addr: self.addr.clone(),
            reason,
        };
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| connect_error(format!("timed out after {:?}", self.timeout)))?
            .map_err(|e| connect_error(e.to_string()))?;
        // Small request/response exchanges: don't let Nagle delay them.
        let _ = stream.set_nodelay(true);
        let mut stream = stream;
        for op in &self.setup {
            self.exchange(&mut stream, *op).await?;
        }
        tracing::info!(addr = %self.addr, "connected to pigpio");
        Ok(stream)
    }

    /// Sends one command and checks its response.
    async fn exchange(&self, stream: &mut TcpStream, op: PinOp) -> Result<(), DriverError> {
        let request = protocol::encode(op);
        let io = async {
            stream.write_all(&request).await?;
            let mut response = [0u8; FRAME_LEN];
            stream.read_exact(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let response = tokio::time::timeout(self.timeout, io)
            .await
            .map_err(|_| DriverError::Io {
                addr: self.addr.clone(),
                reason: format!("timed out after {:?}", self.timeout),
            })?
            .map_err(|e| DriverError::Io {
                addr: self.addr.clone(),
                reason: e.to_string(),
            })?;
        let protocol::Response { cmd, p1, res } = protocol::decode_response(&response);
        if res < 0 {
            return Err(DriverError::Rejected {
                addr: self.addr.clone(),
                command: cmd,
                pin: p1,
                code: res,
            });
        }
        Ok(())
    }

    async fn apply_ops(&self, ops: &[PinOp]) -> Result<(), DriverError> {
        let mut connection = self.connection.lock().await;
        // A reused connection may have died since (daemon restarted): then retry once afresh.
        // Every op sets an absolute state, so sending a batch twice is harmless.
        let mut reused = connection.is_some();
        loop {
            let mut stream = match connection.take() {
                Some(stream) => stream,
                None => self.connect().await?,
            };
            let mut result = Ok(());
            for op in ops {
                result = self.exchange(&mut stream, *op).await;
                if result.is_err() {
                    break;
                }
            }
            match result {
                Ok(()) => {
                    *connection = Some(stream);
                    return Ok(());
                }
                // The daemon answered: the connection is fine, the command was not.
                Err(error @ DriverError::Rejected { .. }) => {
                    *connection = Some(stream);
                    return Err(error);
                }
                Err(error) if reused => {
                    tracing::warn!(addr = %self.addr, %error, "pigpio connection lost; reconnecting");
                    reused = false;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl Driver for PigpioDriver {
    fn apply<'a>(&'a self, ops: &'a [PinOp]) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(self.apply_ops(ops))
    }

    fn kind(&self) -> &'static str {
        "pigpio"
    }
}
