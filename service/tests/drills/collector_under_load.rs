//! OTLP collector down or black-holed under load: the exporter never sits on the request path,
//! so p99 stays where it is with a healthy collector. `traces.rs` in the API tests checks single
//! requests and the bounded exit flush; this drill compares latency under load.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::helpers::{free_port, BinaryApp};
use crate::load::{self, millis, quantile, Load, Report};

const CONNECTIONS: usize = 64;

/// A collector that accepts every OTLP/HTTP export and answers 200.
fn healthy_collector() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err()
                        || writer
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn load_with_collector(endpoint_port: u16, duration: Duration) -> Report {
    let app = BinaryApp::start(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        format!("http://127.0.0.1:{endpoint_port}"),
    )]);
    let runtime = load::client_runtime();
    let report = runtime.block_on(Load::post_visits(&app.url(""), CONNECTIONS, duration).run());
    assert!(
        report.failed().next().is_none(),
        "errors with the collector on port {endpoint_port}: {}",
        report.outcomes()
    );
    assert!(!app.logs().contains("panicked"));
    report
}

#[test]
fn dead_or_black_holed_collector_adds_no_latency_under_load() {
    let _exclusive = load::exclusive();
    let duration = load::seconds_from_env("DRILL_PHASE_SECONDS", 3);
    // Refused: nothing listens. Black hole: the kernel completes the handshake, nobody reads.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let healthy = load_with_collector(healthy_collector(), duration);
    let down = load_with_collector(free_port(), duration);
    let black_holed = load_with_collector(black_hole.local_addr().unwrap().port(), duration);

    let baseline = quantile(healthy.ok(), 0.99);
    // An exporter on the request path would add its 5 s timeout to requests (black hole); the
    // 1 s margin absorbs scheduling noise on a shared 2-core machine and still catches that.
    let allowed = baseline * 2 + Duration::from_secs(1);
    let mut figures = vec![format!(
        "healthy: rps={:.0} p99={}",
        healthy.requests_per_second(),
        millis(baseline)
    )];
    for (name, report) in [("down", &down), ("black-holed", &black_holed)] {
        let p99 = quantile(report.ok(), 0.99);
        assert!(
            p99 <= allowed,
            "collector {name}: p99 {p99:?} against {baseline:?} with a healthy collector"
        );
        figures.push(format!(
            "{name}: rps={:.0} p99={}",
            report.requests_per_second(),
            millis(p99)
        ));
    }
    println!(
        "DRILL otlp-collector: connections={CONNECTIONS} phase={}s errors=0 {}",
        duration.as_secs(),
        figures.join(" | ")
    );
}
