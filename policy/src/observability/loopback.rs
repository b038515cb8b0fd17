//! Running real servers on 127.0.0.1 for the end-to-end tests: free ports, processes stopped by PID
//! when dropped, a minimal HTTP/1.0 client and a webhook sink (no HTTP crate needed on loopback).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A port nobody listens on right now (the OS picks it; we release it for the child to bind).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A child process that is killed (SIGKILL, by its own PID) and reaped when dropped.
pub struct Process {
    pub name: String,
    child: Child,
}

impl Process {
    /// Starts `command`; a missing program fails with `install_hint`.
    pub fn start(name: &str, mut command: Command, install_hint: &str) -> Process {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({e}): {install_hint}"));
        Process {
            name: name.to_string(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics when the process already exited (it crashed or could not bind its port).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("wait on child") {
            panic!("{} exited early with {status}", self.name);
        }
    }

    /// Kills the process and waits for it, so its port is closed when this returns.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes (then panics with `what`).
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An HTTP answer: status code and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// One HTTP/1.0 request without a body to 127.0.0.1:`port`.
pub fn request(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    send(method, port, path, headers, "")
}

/// One HTTP/1.0 request to 127.0.0.1:`port` (HTTP/1.0: no chunked encoding, the server closes).
pub fn send(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status line in {head:?}")))?;
    Ok(Response {
        status,
        body: body.to_string(),
    })
}

/// A loopback HTTP server that answers 200 to everything and keeps the request bodies (a stand-in
/// for a webhook receiver such as Slack). Stops when dropped.
pub struct WebhookSink {
    pub port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookSink {
    pub fn start() -> WebhookSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook sink");
        listener
            .set_nonblocking(true)
            .expect("nonblocking webhook sink");
        let port = listener.local_addr().expect("sink address").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, stopping) = (bodies.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        if let Some(body) = read_request_body(&mut conn) {
                            // Kept before the answer: whoever sees the 200 finds the body here.
                            kept.lock().expect("sink lock").push(body);
                            let _ = conn.write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                            );
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        WebhookSink {
            port,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("sink lock").clone()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request (head and Content-Length body) and returns the body.
fn read_request_body(conn: &mut TcpStream) -> Option<String> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let body_start = loop {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while raw.len() < body_start + length {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    Some(String::from_utf8_lossy(&raw[body_start..]).to_string())
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_promql_for_a_query_string() {
        assert_eq!(
            encode(r#"up{a=~"5.."} / 2"#),
            "up%7Ba%3D~%225..%22%7D%20%2F%202"
        );
    }

    #[test]
    fn talks_http_to_a_loopback_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /x HTTP/1.0\r\n"));
            conn.write_all(
                b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ndown",
            )
            .unwrap();
        });
        let response = request("GET", port, "/x", &[]).unwrap();
        server.join().unwrap();
        assert_eq!((response.status, response.body.as_str()), (503, "down"));
    }

    #[test]
    fn webhook_sink_keeps_posted_bodies() {
        let sink = WebhookSink::start();
        let response = send("POST", sink.port, "/hook", &[], r#"{"text":"hi"}"#).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(sink.bodies(), vec![r#"{"text":"hi"}"#.to_string()]);
    }
}
