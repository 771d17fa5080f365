//! The pigpio driver: GPIO on a remote Raspberry Pi through the pigpio daemon's socket interface.
//!
//! The seed used gpiozero's `PiGPIOFactory`, which speaks this protocol to `pigpiod` (TCP, port
//! 8888 by default). Every request is 16 bytes, four little-endian u32 `cmd, p1, p2, p3` (`p3` is
//! the length of an optional extension, always 0 here); every response is 16 bytes `cmd, p1, p2,
//! res` where `res` is an i32, negative on error (a `PI_*` error code).
//!
//! Command codes used (pigpio.h `PI_CMD_*`, documented with `pigs` at
//! <https://abyz.me.uk/rpi/pigpio/sif.html>):
//!
//! | code | name  | p1   | p2                                  |
//! |------|-------|------|-------------------------------------|
//! | 0    | MODES | gpio | mode (1 = output)                   |
//! | 4    | WRITE | gpio | level (0/1)                         |
//! | 5    | PWM   | gpio | duty cycle, 0..range                |
//! | 6    | PRS   | gpio | PWM range, 25..40000 (res = real range) |
//! | 8    | SERVO | gpio | pulse width µs, 0 (off) or 500..2500 |
//!
//! One connection per robot, opened lazily and replaced after any I/O failure, so a restarted
//! daemon or a Pi that was offline is picked up by the next command. Connect and every exchange
//! are bounded by a timeout: a dead robot costs a request at most that long, never a hang.

use super::{Driver, DriverError, PinOp};
use futures::future::BoxFuture;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

pub const CMD_MODES: u32 = 0;
pub const CMD_WRITE: u32 = 4;
pub const CMD_PWM: u32 = 5;
pub const CMD_PRS: u32 = 6;
pub const CMD_SERVO: u32 = 8;
/// `MODES` argument for output.
pub const MODE_OUTPUT: u32 = 1;

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
        let request = encode(op);
        let io = async {
            stream.write_all(&request).await?;
            let mut response = [0u8; 16];
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
        let word = |i: usize| {
            u32::from_le_bytes([
                response[i],
                response[i + 1],
                response[i + 2],
                response[i + 3],
            ])
        };
        let (cmd, p1) = (word(0), word(4));
        let res = i32::from_le_bytes([response[12], response[13], response[14], response[15]]);
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

/// The 16-byte request for `op`.
pub fn encode(op: PinOp) -> [u8; 16] {
    let (cmd, p1, p2) = match op {
        PinOp::SetOutput { pin } => (CMD_MODES, u32::from(pin), MODE_OUTPUT),
        PinOp::Write { pin, high } => (CMD_WRITE, u32::from(pin), u32::from(high)),
        PinOp::PwmRange { pin, range } => (CMD_PRS, u32::from(pin), range),
        PinOp::Pwm { pin, duty } => (CMD_PWM, u32::from(pin), duty),
        PinOp::Servo { pin, pulse_us } => (CMD_SERVO, u32::from(pin), pulse_us),
    };
    let mut request = [0u8; 16];
    request[0..4].copy_from_slice(&cmd.to_le_bytes());
    request[4..8].copy_from_slice(&p1.to_le_bytes());
    request[8..12].copy_from_slice(&p2.to_le_bytes());
    // p3 (extension length) stays 0.
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_four_little_endian_words() {
        assert_eq!(
            encode(PinOp::Write {
                pin: 13,
                high: true
            }),
            [4, 0, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            encode(PinOp::Servo {
                pin: 22,
                pulse_us: 2000
            }),
            [8, 0, 0, 0, 22, 0, 0, 0, 0xd0, 0x07, 0, 0, 0, 0, 0, 0]
        );
    }
}
