//! A dependency-free HTTP health probe for the distroless runtime image, which has no shell, curl or wget.
//!
//! Built with plain `rustc` in the Dockerfile (std only, so it needs no Cargo.toml and no crate in the
//! workspace) and used by both the image's HEALTHCHECK and docker-compose.yml:
//!
//!   healthcheck                          GET http://127.0.0.1:<port of $LISTEN_ADDR>/healthz
//!   healthcheck http://127.0.0.1:5000/readyz
//!
//! Exit status 0 when the answer is 2xx within 3 s, 1 otherwise (Docker's healthy / unhealthy).
//! Only plain `http://host:port/path` URLs: it probes the service's own listener from inside the container.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

fn default_url() -> Result<String, String> {
    let listen = std::env::var("LISTEN_ADDR").map_err(|_| "no URL given and LISTEN_ADDR is unset".to_string())?;
    let port = listen.rsplit_once(':').map(|(_, port)| port).ok_or(format!("LISTEN_ADDR {listen:?} has no port"))?;
    Ok(format!("http://127.0.0.1:{port}/healthz"))
}

fn probe(url: &str) -> Result<u16, String> {
    let rest = url.strip_prefix("http://").ok_or(format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], &rest[index..]),
        None => (rest, "/"),
    };
    let address = authority
        .to_socket_addrs()
        .map_err(|error| format!("{authority}: {error}"))?
        .next()
        .ok_or(format!("{authority}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(|error| format!("{address}: {error}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|error| error.to_string())?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(|error| error.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: healthcheck\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|error| error.to_string())?;
    // The status line fits in the first read; no need to read the body.
    let mut buffer = [0_u8; 256];
    let read = stream.read(&mut buffer).map_err(|error| error.to_string())?;
    let head = String::from_utf8_lossy(&buffer[..read]);
    let status = head.split_whitespace().nth(1).ok_or(format!("malformed response: {head:?}"))?;
    status.parse().map_err(|_| format!("malformed status {status:?}"))
}

fn main() -> ExitCode {
    let url = match std::env::args().nth(1).map(Ok).unwrap_or_else(default_url) {
        Ok(url) => url,
        Err(error) => {
            eprintln!("healthcheck: {error}");
            return ExitCode::FAILURE;
        }
    };
    match probe(&url) {
        Ok(status) if (200..300).contains(&status) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("healthcheck: {url} answered {status}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("healthcheck: {error}");
            ExitCode::FAILURE
        }
    }
}
