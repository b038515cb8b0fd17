//! Hostile input, hand-written: raw bytes over TCP, so nothing is normalised by a client library
//! on the way. What reaches the app is answered 4xx `application/problem+json`; what actix's
//! HTTP/1 parser refuses before routing (framing it cannot trust) is answered with a bare 4xx and
//! the connection closed. Nothing panics and the process keeps serving. `problems.rs` and
//! `auth.rs` in the API tests cover oversized bodies, 431 heads and forged JWT claims.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::helpers::{auth_env, BinaryApp};

#[derive(Debug)]
enum Expect {
    /// The app answered: this status, as RFC 9457 problem+json.
    Problem(u16),
    /// The HTTP parser refused the request before routing: this status, empty body, closed.
    ParserRejects(u16),
    /// The head is fine, the chunked body is not: the body read fails (a problem) or the server
    /// closes on the broken framing first, whichever wins. Never a counted visit.
    ProblemOrClosed(u16),
}

fn corpus() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    let get = |target: &[u8], headers: &[u8]| {
        [
            b"GET ",
            target,
            b" HTTP/1.1\r\nHost: drill\r\n",
            headers,
            b"\r\n",
        ]
        .concat()
    };
    let with_body = |method: &str, path: &str, headers: &str, body: &[u8]| {
        [
            format!("{method} {path} HTTP/1.1\r\nHost: drill\r\n{headers}").as_bytes(),
            b"\r\n",
            body,
        ]
        .concat()
    };
    let json = |body: &[u8]| {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
    };
    let many_headers: Vec<u8> = (0..200)
        .flat_map(|i| format!("X-Drill-{i}: v\r\n").into_bytes())
        .collect();
    vec![
        // Paths.
        ("traversal", get(b"/../../etc/passwd", b""), Problem(404)),
        (
            "traversal via a route",
            get(b"/visits/../secret", b""),
            Problem(404),
        ),
        (
            "encoded traversal",
            get(b"/%2e%2e/%2e%2e/etc/passwd", b""),
            Problem(404),
        ),
        ("encoded NUL", get(b"/secret%00", b""), Problem(404)),
        (
            "absolute-form target",
            get(b"http://evil.example/secret", b""),
            Problem(401),
        ),
        (
            "raw invalid UTF-8 path",
            get(b"/\xff\xfe", b""),
            ParserRejects(400),
        ),
        (
            "64 KiB path",
            get(&[b"/".as_slice(), &[b'a'; 65536]].concat(), b""),
            ParserRejects(400),
        ),
        // Headers and credentials.
        (
            "invalid UTF-8 API key",
            get(b"/secret", b"X-API-Key: \xff\xfe\xfd\r\n"),
            Problem(401),
        ),
        (
            "invalid UTF-8 bearer",
            get(b"/secret", b"Authorization: Bearer \xff\xfe\r\n"),
            Problem(401),
        ),
        (
            "bearer with three empty-ish segments",
            get(b"/secret", b"Authorization: Bearer a.b.c\r\n"),
            Problem(401),
        ),
        (
            "bearer of 4,000 segments",
            get(
                b"/secret",
                &[
                    b"Authorization: Bearer ".as_slice(),
                    &b"a.".repeat(4000),
                    b"\r\n",
                ]
                .concat(),
            ),
            Problem(401),
        ),
        (
            "1 MiB bearer",
            get(
                b"/secret",
                &[
                    b"Authorization: Bearer ".as_slice(),
                    &vec![b'a'; 1 << 20],
                    b"\r\n",
                ]
                .concat(),
            ),
            ParserRejects(431),
        ),
        ("200 headers", get(b"/", &many_headers), ParserRejects(431)),
        (
            "space in a header name",
            get(b"/", b"Bad Header: v\r\n"),
            ParserRejects(400),
        ),
        (
            "unknown method",
            with_body("FOO", "/visits", "", b""),
            Problem(405),
        ),
        // Bodies and framing.
        (
            "malformed JSON to /secret",
            with_body("GET", "/secret", &json(b"{\"a\":"), b"{\"a\":"),
            Problem(401),
        ),
        (
            "declared 10 MiB body",
            with_body("POST", "/visits", "Content-Length: 10485760\r\n", b""),
            Problem(413),
        ),
        (
            "negative Content-Length",
            with_body("POST", "/visits", "Content-Length: -1\r\n", b""),
            ParserRejects(400),
        ),
        (
            "Content-Length beyond u64",
            with_body(
                "POST",
                "/visits",
                "Content-Length: 99999999999999999999999\r\n",
                b"",
            ),
            ParserRejects(400),
        ),
        (
            "conflicting Content-Lengths",
            with_body(
                "POST",
                "/visits",
                "Content-Length: 1\r\nContent-Length: 2\r\n",
                b"ab",
            ),
            ParserRejects(400),
        ),
        (
            "Content-Length with chunked (smuggling)",
            with_body(
                "POST",
                "/visits",
                "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                b"0\r\n\r\n",
            ),
            ParserRejects(400),
        ),
        (
            "malformed chunk size",
            with_body(
                "POST",
                "/visits",
                "Transfer-Encoding: chunked\r\n",
                b"zz\r\nabc\r\n0\r\n\r\n",
            ),
            ProblemOrClosed(400),
        ),
        (
            "malformed JSON to /visits",
            with_body("POST", "/visits", &json(b"{\"a\":"), b"{\"a\":"),
            Problem(400),
        ),
        (
            "invalid UTF-8 body to /visits",
            with_body("POST", "/visits", &json(b"\xff\xfe\xfd"), b"\xff\xfe\xfd"),
            Problem(400),
        ),
        // Not HTTP/1.1 at all.
        (
            "HTTP/2.0 request line",
            b"GET / HTTP/2.0\r\nHost: drill\r\n\r\n".to_vec(),
            ParserRejects(400),
        ),
        (
            "TLS ClientHello on the plain port",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
            ParserRejects(400),
        ),
    ]
}

struct RawResponse {
    status: Option<u16>,
    head: String,
    body: Vec<u8>,
}

/// Sends raw bytes on a fresh connection; reads until the response is complete or the server
/// closes. A reset while sending (the server refused mid-upload) reads as no response.
fn exchange(port: u16, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut received = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                break;
            }
        }
    }
    let end = received.windows(4).position(|w| w == b"\r\n\r\n");
    let head = end.map_or(String::new(), |e| {
        String::from_utf8_lossy(&received[..e]).to_lowercase()
    });
    RawResponse {
        status: head.split(' ').nth(1).and_then(|s| s.parse().ok()),
        body: end.map_or(Vec::new(), |e| received[e + 4..].to_vec()),
        head,
    }
}

fn check(name: &str, response: &RawResponse, expect: &Expect) {
    let context = format!(
        "{name}: {expect:?}, got {:?}\n{}",
        response.status, response.head
    );
    match *expect {
        Expect::Problem(status) => {
            assert_eq!(response.status, Some(status), "{context}");
            assert!(
                response
                    .head
                    .contains("content-type: application/problem+json"),
                "{context}"
            );
            let body: serde_json::Value = serde_json::from_slice(&response.body).expect(&context);
            assert_eq!(body["status"], status, "{context}");
        }
        Expect::ParserRejects(status) => {
            assert_eq!(response.status, Some(status), "{context}");
            assert!(response.body.is_empty(), "{context}");
            assert!(response.head.contains("connection: close"), "{context}");
        }
        Expect::ProblemOrClosed(_) if response.status.is_none() => {}
        Expect::ProblemOrClosed(status) => check(name, response, &Expect::Problem(status)),
    }
}

#[test]
fn hostile_requests_get_4xx_and_never_a_panic() {
    let mut env = auth_env();
    env.push(("REQUEST_BODY_LIMIT_BYTES", "16384".into()));
    let mut app = BinaryApp::start(&env);
    let corpus = corpus();
    for (name, request, expect) in &corpus {
        check(name, &exchange(app.port, request), expect);
    }
    assert!(app.child.try_wait().unwrap().is_none(), "greeter exited");
    assert_eq!(app.blocking_get("/healthz").unwrap().status(), 200);
    assert!(!app.logs().contains("panicked"), "{}", app.logs());
    let problems = corpus
        .iter()
        .filter(|c| matches!(c.2, Expect::Problem(_)))
        .count();
    let parser = corpus
        .iter()
        .filter(|c| matches!(c.2, Expect::ParserRejects(_)))
        .count();
    println!(
        "DRILL hostile-input: requests={} app_problem_4xx={problems} parser_4xx_closed={parser} panics=0",
        corpus.len()
    );
}
