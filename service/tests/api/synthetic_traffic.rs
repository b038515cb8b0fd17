//! `greeter synthetic-traffic`, the real binary against the real app: the mix of routes at about
//! the asked rate (counted by the app's own metrics), bounded, stopped by its deadline or a
//! signal, one JSON summary line, exit 0 whatever the answers; exit 2 on bad flags. It runs with
//! an empty environment: it needs no setting.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{auth_env, free_port, wait_until, BinaryApp};

fn generator(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greeter"));
    command
        .env_clear()
        .arg("synthetic-traffic")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Exit 0 and exactly one line on stdout, the summary.
fn summary_of(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn synthetic_count(metrics: &str, endpoint: &str, method: &str, status: &str) -> u64 {
    let series = format!(
        r#"greeter_http_requests_total{{endpoint="{endpoint}",method="{method}",status="{status}",traffic="synthetic"}} "#
    );
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |count| count.parse().unwrap())
}

#[test]
fn sends_every_slo_route_evenly_at_the_asked_rate() {
    let app = BinaryApp::start(&auth_env());
    let target = app.url("");
    let output = generator(&["--target", &target, "--rps", "20", "--seconds", "3"])
        .output()
        .unwrap();
    let summary = summary_of(&output);
    assert_eq!(summary["stopped_by"], "deadline");
    assert_eq!(summary["target"], format!("{target}/"));
    let sent = summary["sent"].as_u64().unwrap();
    // 20/s for 3 s; a starved CPU skips ticks rather than bursting.
    assert!((45..=60).contains(&sent), "sent {sent}");
    assert_eq!(summary["skipped"], 0);
    assert_eq!(
        summary["transport_errors"],
        serde_json::json!({"timeout": 0, "connect": 0, "other": 0})
    );

    // What the app counted, by route: the same, in turn, labelled synthetic.
    let metrics = app.metrics();
    let mut counted = 0;
    for (route, endpoint, method, status, class) in [
        ("GET /", "/", "GET", "200", "2xx"),
        ("POST /visits", "/visits", "POST", "200", "2xx"),
        ("GET /visits", "/visits", "GET", "200", "2xx"),
        ("GET /version", "/version", "GET", "200", "2xx"),
        ("GET /secret", "/secret", "GET", "401", "4xx"),
    ] {
        let count = synthetic_count(&metrics, endpoint, method, status);
        assert!(
            count.abs_diff(sent / 5) <= 1,
            "{route}: {count} of {sent}\n{metrics}"
        );
        assert_eq!(summary["routes"][route][class], count, "{route}");
        counted += count;
    }
    assert_eq!(counted, sent, "every request answered and counted");
    assert!(!metrics.contains(r#"traffic="client""#), "{metrics}");
    let client_visits: Value = app.blocking_get("/visits").unwrap().json().unwrap();
    assert_eq!(client_visits["visits"], 0, "the visit count did not move");
}

#[test]
fn rps_0_sends_nothing_until_the_time_is_up() {
    let app = BinaryApp::start(&[]);
    let output = generator(&["--target", &app.url(""), "--rps", "0", "--seconds", "1"])
        .output()
        .unwrap();
    let summary = summary_of(&output);
    assert_eq!(summary["sent"], 0);
    assert_eq!(summary["stopped_by"], "deadline");
    assert!(summary["elapsed_seconds"].as_f64().unwrap() >= 1.0);
    assert!(!app.metrics().contains("greeter_http_requests_total{"));
}

#[test]
fn stops_promptly_on_sigterm_and_sigint() {
    let app = BinaryApp::start(&[]);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let before = synthetic_count(&app.metrics(), "/", "GET", "200");
        let child = Running(
            generator(&["--target", &app.url(""), "--rps", "10", "--seconds", "3600"])
                .spawn()
                .unwrap(),
        );
        wait_until(Duration::from_secs(10), "synthetic requests", || {
            synthetic_count(&app.metrics(), "/", "GET", "200") > before
        });
        assert_eq!(unsafe { libc::kill(child.0.id() as i32, signal) }, 0);
        let signalled = Instant::now();
        let output = child.wait(Duration::from_secs(10));
        let took = signalled.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "stopped {took:?} after the signal"
        );
        let summary = summary_of(&output);
        assert_eq!(summary["stopped_by"], "signal", "{signal}");
        assert!(summary["sent"].as_u64().unwrap() > 0);
    }
}

/// A target that accepts connections and never answers: at most 32 requests wait at a time, each
/// for 2 s, and the rest are skipped, not piled on. Exit 0 all the same.
#[test]
fn a_stalled_target_gets_bounded_load_and_timeouts() {
    let stalled = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", stalled.local_addr().unwrap());
    let output = generator(&["--target", &target, "--rps", "50", "--seconds", "2"])
        .output()
        .unwrap();
    let summary = summary_of(&output);
    let sent = summary["sent"].as_u64().unwrap();
    assert!((1..=32).contains(&sent), "sent {sent}");
    assert!(summary["skipped"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["transport_errors"]["timeout"], sent, "{summary}");
}

/// Every request on a connection of its own, as a client behind a Service's virtual IP needs to
/// follow the endpoints as they change: a target that answers and keeps the connection open must
/// see as many connections as requests.
#[test]
fn opens_a_new_connection_for_every_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                // Answer every request on this connection, keep-alive, until the client closes it.
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        return;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if std::io::Write::write_all(&mut stream, answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let output = generator(&["--target", &target, "--rps", "10", "--seconds", "2"])
        .output()
        .unwrap();
    let summary = summary_of(&output);
    let sent = summary["sent"].as_u64().unwrap();
    assert!(sent >= 10, "{summary}");
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        sent,
        "{summary}"
    );
}

/// No service listens: every request is a transport error, and it still exits 0. The service's
/// settings around it, even invalid ones, play no part.
#[test]
fn needs_no_setting_and_does_not_judge() {
    let target = format!("http://127.0.0.1:{}", free_port());
    let output = generator(&["--target", &target, "--rps", "10", "--seconds", "1"])
        .env("PORT", "not-a-port")
        .env("CONFIG_DIR", "/nonexistent/greeter")
        .env("FAULT_ERROR_RATIO", "2")
        .output()
        .unwrap();
    let summary = summary_of(&output);
    let sent = summary["sent"].as_u64().unwrap();
    assert!(sent > 0);
    assert_eq!(summary["transport_errors"]["connect"], sent, "{summary}");
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let target = "http://127.0.0.1:9";
    for (args, flag) in [
        (
            vec!["--target", target, "--rps", "51", "--seconds", "1"],
            "--rps",
        ),
        (
            vec!["--target", target, "--rps", "x", "--seconds", "1"],
            "--rps",
        ),
        (
            vec!["--target", target, "--rps", "1", "--seconds", "0"],
            "--seconds",
        ),
        (
            vec!["--target", target, "--rps", "1", "--seconds", "3601"],
            "--seconds",
        ),
        (vec!["--target", target, "--rps", "1"], "--seconds"),
        (
            vec![
                "--target",
                "https://greeter.example.com",
                "--rps",
                "1",
                "--seconds",
                "1",
            ],
            "--target",
        ),
        (
            vec!["--target", "greeter-canary", "--rps", "1", "--seconds", "1"],
            "--target",
        ),
        (
            vec![
                "--target",
                target,
                "--rps",
                "1",
                "--seconds",
                "1",
                "--burst",
                "9",
            ],
            "--burst",
        ),
    ] {
        let output = generator(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("greeter synthetic-traffic: {flag}: ")),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let unknown = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .env_clear()
        .arg("synthetic-trafic")
        .output()
        .unwrap();
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "a typo does not start the service"
    );
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unknown command \"synthetic-trafic\"")
    );
}

/// A load generator that is killed (by PID) if the test ends before it does.
struct Running(Child);

impl Running {
    fn wait(mut self, timeout: Duration) -> Output {
        wait_until(timeout, "the load generator to exit", || {
            self.0.try_wait().unwrap().is_some()
        });
        let mut output = Output {
            status: self.0.wait().unwrap(),
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        self.0
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut output.stdout)
            .unwrap();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_end(&mut output.stderr)
            .unwrap();
        output
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
