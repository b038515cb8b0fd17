//! SIGTERM under load, as Kubernetes does it: readiness fails at once, a client that stops
//! sending when readiness fails (the endpoints controller's role) sees no failed request, every
//! in-flight request completes, and the process exits 0 within delay + timeout + 2 s.
//! `shutdown.rs` in the API tests checks the sequence with single requests.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::helpers::{BinaryApp, RedisServer};
use crate::load::{self, millis, quantile, Load};

const CONNECTIONS: usize = 64;
const DELAY_SECONDS: u64 = 2;
const TIMEOUT_SECONDS: u64 = 10;

#[test]
fn sigterm_under_load_fails_no_request_of_a_readiness_aware_client() {
    let _exclusive = load::exclusive();
    let redis = RedisServer::start();
    load::without_persistence(&redis);
    let mut env = redis.env();
    env.push(("SHUTDOWN_DELAY_SECONDS", DELAY_SECONDS.to_string()));
    env.push(("SHUTDOWN_TIMEOUT_SECONDS", TIMEOUT_SECONDS.to_string()));
    env.push(load::relaxed_command_timeout());
    env.push(("RUST_LOG", load::access_log_filter()));
    let app = BinaryApp::start(&env);

    let runtime = load::client_runtime();
    let load = Load::post_visits(&app.url(""), CONNECTIONS, Duration::from_secs(30));
    let stop = load.stop.clone();
    let run = runtime.spawn(load.run());
    // The readiness-aware client: polls /readyz and stops sending at the first non-200.
    let watcher = std::thread::spawn({
        let url = app.url("/readyz");
        move || loop {
            let ready = reqwest::blocking::Client::new()
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .is_ok_and(|r| r.status() == 200);
            if !ready {
                stop.store(true, Ordering::Relaxed);
                return Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Instant::now();
    app.signal(libc::SIGTERM);
    let noticed = watcher.join().unwrap();
    let report = runtime.block_on(run).unwrap();
    let (code, logs) = app.wait(Duration::from_secs(DELAY_SECONDS + TIMEOUT_SECONDS + 5));
    let exited = signalled.elapsed();

    assert_eq!(code, Some(0), "{logs}");
    assert!(
        exited < Duration::from_secs(DELAY_SECONDS + TIMEOUT_SECONDS + 2),
        "exit took {exited:?}"
    );
    let failed: Vec<_> = report.failed().take(5).collect();
    assert!(
        failed.is_empty(),
        "failed requests: {failed:?} ({})",
        report.outcomes()
    );
    let last_answered = report.samples.iter().map(|s| s.done()).max().unwrap();
    let counts = report.assert_acknowledged_counts_distinct();
    assert_eq!(
        load::redis_counter(redis.port),
        counts.len() as u64,
        "every request sent was answered and counted once"
    );
    assert!(!logs.contains("panicked"));
    println!(
        "DRILL sigterm: connections={CONNECTIONS} delay={DELAY_SECONDS}s requests={} errors=0 p99={} readiness_noticed_after={} last_response_after={} exit_code=0 exit_after={} budget={}s",
        report.samples.len(),
        millis(quantile(report.ok(), 0.99)),
        millis(noticed - signalled),
        millis(last_answered.saturating_duration_since(signalled)),
        millis(exited),
        DELAY_SECONDS + TIMEOUT_SECONDS + 2,
    );
}
