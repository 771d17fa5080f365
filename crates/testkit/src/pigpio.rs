//! A pigpio-daemon stand-in: the one fake in the workspace, for the one part that cannot run
//! here (robot hardware). robot-control's tests and the reliability suite both use it.
//!
//! It speaks only the framing of the pigpio socket protocol (16-byte requests, 16-byte answers
//! `cmd, p1, p2, res` with `res` = 0 for success) and records every request verbatim; what the
//! bytes mean is `robot_control::driver::pigpio::protocol`'s business, which tests compare
//! against.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// One pigpio request or answer.
type Frame = [u8; 16];

/// How a [`FakePigpio`] treats the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PigpioMode {
    /// Answer every request with success.
    Answer = 0,
    /// Read requests, never answer (a hung daemon).
    Silent = 1,
    /// Read the next request, then vanish: close the listener and every connection unanswered
    /// (the daemon died in the middle of a command).
    DieMidCommand = 2,
}

/// A TCP server on loopback speaking the pigpio socket protocol's framing. Everything closes on
/// [`stop`](Self::stop) or drop.
pub struct FakePigpio {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Frame>>>,
    mode: Arc<AtomicU8>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    died: Arc<Notify>,
}

impl FakePigpio {
    /// A daemon on a free port that answers every request.
    pub async fn start() -> Self {
        Self::start_with(loopback_any_port(), PigpioMode::Answer).await
    }

    /// A daemon that accepts connections but never answers.
    pub async fn start_silent() -> Self {
        Self::start_with(loopback_any_port(), PigpioMode::Silent).await
    }

    /// An answering daemon on `addr` (e.g. the address of a daemon that died: it came back).
    pub async fn start_on(addr: SocketAddr) -> Self {
        Self::start_with(addr, PigpioMode::Answer).await
    }

    async fn start_with(addr: SocketAddr, mode: PigpioMode) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        // A restarted daemon binds the address its predecessor just closed.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind(addr)
            .unwrap_or_else(|e| panic!("bind fake pigpio on {addr}: {e}"));
        let listener = socket.listen(64).expect("listen");
        let addr = listener.local_addr().expect("local addr");
        let requests: Arc<Mutex<Vec<Frame>>> = Arc::default();
        let mode = Arc::new(AtomicU8::new(mode as u8));
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let died = Arc::new(Notify::new());
        let accept = {
            let (requests, mode, tasks, died) =
                (requests.clone(), mode.clone(), tasks.clone(), died.clone());
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let (requests, mode, died) = (requests.clone(), mode.clone(), died.clone());
                    let connection = tokio::spawn(async move {
                        let mut request: Frame = [0; 16];
                        while stream.read_exact(&mut request).await.is_ok() {
                            requests.lock().expect("fake pigpio lock").push(request);
                            match mode.load(Ordering::SeqCst) {
                                m if m == PigpioMode::Silent as u8 => continue,
                                m if m == PigpioMode::DieMidCommand as u8 => {
                                    died.notify_one();
                                    std::future::pending::<()>().await;
                                }
                                _ => {}
                            }
                            let mut response = request;
                            response[12..16].copy_from_slice(&0i32.to_le_bytes());
                            if stream.write_all(&response).await.is_err() {
                                break;
                            }
                        }
                    });
                    tasks
                        .lock()
                        .expect("fake pigpio lock")
                        .push(connection.abort_handle());
                }
            })
        };
        tasks
            .lock()
            .expect("fake pigpio lock")
            .push(accept.abort_handle());
        Self {
            addr,
            requests,
            mode,
            tasks,
            died,
        }
    }

    pub fn set_mode(&self, mode: PigpioMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Waits until a request arrives in [`PigpioMode::DieMidCommand`], then closes everything.
    pub async fn die_mid_command(&self) {
        self.set_mode(PigpioMode::DieMidCommand);
        self.died.notified().await;
        self.stop().await;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Frame> {
        self.requests.lock().expect("fake pigpio lock").clone()
    }

    pub fn clear(&self) {
        self.requests.lock().expect("fake pigpio lock").clear();
    }

    /// Closes the listener and every connection (the daemon went away).
    pub async fn stop(&self) {
        self.abort_all();
        // Let the runtime drop the aborted tasks (and so close their sockets).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    fn abort_all(&self) {
        // Also called from drop: never panic here.
        if let Ok(mut tasks) = self.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

impl Drop for FakePigpio {
    fn drop(&mut self) {
        self.abort_all();
    }
}

fn loopback_any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
