//! Spans reach a real OTLP/HTTP receiver and continue the caller's W3C trace.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::helpers::BinaryApp;

/// Accepts OTLP/HTTP protobuf exports and forwards each decoded request.
fn otlp_receiver() -> (u16, mpsc::Receiver<(String, ExportTraceServiceRequest)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let decoded =
                ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            if tx.send((request_line.trim().to_string(), decoded)).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn spans_continue_the_incoming_trace() {
    let (port, exports) = otlp_receiver();
    let app = BinaryApp::start(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        ),
        ("OTEL_SERVICE_NAME", "greeter-under-test".into()),
        ("RUST_LOG", "info,greeter=debug".into()),
        ("SHUTDOWN_DELAY_SECONDS", "0".into()),
    ]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span_id = "00f067aa0ba902b7";
    let response = reqwest::blocking::Client::new()
        .post(app.url("/visits"))
        .header("traceparent", format!("00-{trace_id}-{parent_span_id}-01"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    // Exit flushes the batch.
    app.signal(libc::SIGTERM);
    let (code, logs) = app.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{logs}");

    let mut spans = Vec::new();
    while let Ok((request_line, export)) = exports.recv_timeout(Duration::from_secs(2)) {
        assert_eq!(request_line, "POST /v1/traces HTTP/1.1");
        for resource_spans in export.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            let service = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name");
            assert!(format!("{service:?}").contains("greeter-under-test"));
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    assert!(!spans.is_empty(), "no spans arrived; logs:\n{logs}");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    // Every exported span belongs to the one request: nothing from the exporter's own HTTP.
    for span in &spans {
        assert_eq!(
            hex(&span.trace_id),
            trace_id,
            "span {:?} is from another trace",
            span.name
        );
    }
    let root = spans
        .iter()
        .find(|s| hex(&s.parent_span_id) == parent_span_id)
        .expect("the request span's parent is the caller's span");
    assert!(root.name.contains("/visits"), "{}", root.name);
    assert!(spans.iter().any(|s| s.name == "visit_store.incr"));
    // The request's access log line carries the same trace id and the request span's id.
    let access = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "request completed" && l["trace_id"] == trace_id)
        .unwrap_or_else(|| panic!("no access log line with the trace id:\n{logs}"));
    assert_eq!(access["span_id"], hex(&root.span_id));
}

#[test]
fn dead_or_black_holed_collector_neither_blocks_nor_fails_requests() {
    // Refused: nothing listens. Black hole: the kernel accepts, nobody ever answers.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoints = [
        crate::helpers::free_port(),
        black_hole.local_addr().unwrap().port(),
    ];
    for port in endpoints {
        let app = BinaryApp::start(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64".into()),
            ("SHUTDOWN_DELAY_SECONDS", "0".into()),
        ]);
        let client = reqwest::blocking::Client::new();
        for _ in 0..200 {
            let started = std::time::Instant::now();
            assert_eq!(
                client.post(app.url("/visits")).send().unwrap().status(),
                200
            );
            assert!(started.elapsed() < Duration::from_millis(500));
        }
        let stopping = std::time::Instant::now();
        app.signal(libc::SIGTERM);
        let (code, _) = app.wait(Duration::from_secs(15));
        assert_eq!(code, Some(0));
        // The trace flush at exit is bounded (2 s) even when the collector never answers.
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "exit took {:?}",
            stopping.elapsed()
        );
    }
}
