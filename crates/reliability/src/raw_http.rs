//! HTTP/1.1 over a bare socket: hostile requests that no HTTP client would send, and an answer
//! read with a deadline, so a hang is an outcome, not a stuck test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What one raw HTTP/1.1 exchange produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawOutcome {
    /// A response: status code and body length read.
    Response { status: u16, body_len: usize },
    /// The server closed (or reset) the connection without a response.
    Closed,
    /// No complete answer within the hang guard.
    Hang,
    /// The connection was refused.
    Refused,
}

/// Sends `request` bytes on a new connection and reads one response (hang guard: `timeout`).
/// Reads the head, then the body by Content-Length or chunked framing.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> RawOutcome {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return RawOutcome::Refused;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    // The server may answer (431, 413) and close before it reads everything: keep reading.
    let _ = stream.write_all(request);
    let head_only = request.starts_with(b"HEAD ");
    read_response_to(&mut stream, Instant::now() + timeout, head_only)
}

/// Reads one HTTP/1.1 response from `stream` until `deadline`.
pub fn read_response(stream: &mut TcpStream, deadline: Instant) -> RawOutcome {
    read_response_to(stream, deadline, false)
}

/// Like [`read_response`]; `head_only` for the answer to a HEAD request (no body follows).
pub fn read_response_to(stream: &mut TcpStream, deadline: Instant, head_only: bool) -> RawOutcome {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(pos) = find(&buffer, b"\r\n\r\n") {
            break pos + 4;
        }
        if Instant::now() >= deadline {
            return RawOutcome::Hang;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return RawOutcome::Closed,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return RawOutcome::Hang;
            }
            Err(_) => return RawOutcome::Closed,
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_length: Option<usize> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    let mut body = buffer[head_end..].to_vec();
    let complete = |body: &[u8]| match (content_length, chunked) {
        (Some(n), _) => body.len() >= n,
        (None, true) => find(body, b"0\r\n\r\n").is_some(),
        (None, false) => false,
    };
    while !head_only && !complete(&body) && status != 101 && status != 204 && status != 304 {
        if Instant::now() >= deadline {
            return RawOutcome::Hang;
        }
        match stream.read(&mut chunk) {
            // Without framing the body ends at EOF.
            Ok(0) if content_length.is_none() && !chunked => break,
            Ok(0) => return RawOutcome::Closed,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(_) => return RawOutcome::Hang,
        }
    }
    RawOutcome::Response {
        status,
        body_len: body.len(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
