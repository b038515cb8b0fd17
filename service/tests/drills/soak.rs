//! Load held: a bounded soak on `POST /visits` against the real binary and a real Redis.

use std::time::{Duration, Instant};

use crate::helpers::{BinaryApp, RedisServer};
use crate::load::{self, millis, quantile, Load};

const CONNECTIONS: usize = 64;
/// RSS may wobble with the allocator; a leak of a few hundred bytes per request exceeds this
/// within seconds at the rates measured here.
const RSS_SLACK_BYTES: u64 = 4 << 20;

#[test]
fn soak_holds_without_errors_leaks_or_lost_increments() {
    let _exclusive = load::exclusive();
    let duration = load::seconds_from_env("DRILL_SOAK_SECONDS", 10);
    let redis = RedisServer::start();
    load::without_persistence(&redis);
    let mut env = redis.env();
    env.push(load::relaxed_command_timeout());
    let log_filter = load::access_log_filter();
    env.push(("RUST_LOG", log_filter.clone()));
    let app = BinaryApp::start(&env);
    let pid = app.child.id();

    let runtime = load::client_runtime();
    let run = runtime.spawn(Load::post_visits(&app.url(""), CONNECTIONS, duration).run());
    // Warm-up: the first 30 % (pools, buffers and allocator arenas reach their working size).
    let started = Instant::now();
    std::thread::sleep(duration.mul_f64(0.3));
    let warm_rss = load::rss_bytes(pid);
    let mut rss = Vec::new();
    while started.elapsed() < duration {
        rss.push(load::rss_bytes(pid));
        std::thread::sleep(Duration::from_millis(250));
    }
    let report = runtime.block_on(run).unwrap();
    let peak_rss = rss.iter().copied().max().unwrap_or(warm_rss);
    let end_rss = load::rss_bytes(pid);

    let failed: Vec<_> = report.failed().take(5).collect();
    assert!(
        failed.is_empty(),
        "errors under load ({}): {failed:?}",
        report.outcomes()
    );
    let counts = report.assert_acknowledged_counts_distinct();
    assert_eq!(
        load::redis_counter(redis.port),
        counts.len() as u64,
        "the Redis counter equals the number of 200s: none lost, none doubled"
    );
    assert_eq!(counts.last().copied(), Some(counts.len() as u64));
    assert!(
        peak_rss <= warm_rss + RSS_SLACK_BYTES && end_rss <= warm_rss + RSS_SLACK_BYTES,
        "RSS grew after warm-up: {warm_rss} -> peak {peak_rss}, end {end_rss}"
    );
    assert!(
        !app.logs().contains("panicked"),
        "a panic was logged under load"
    );
    println!(
        "DRILL soak: duration={}s connections={CONNECTIONS} rust_log={log_filter} requests={} rps={:.0} p50={} p99={} max={} errors=0 redis_counter={} rss_warm={:.1}MiB rss_peak={:.1}MiB rss_end={:.1}MiB",
        duration.as_secs(),
        report.samples.len(),
        report.requests_per_second(),
        millis(quantile(report.ok(), 0.5)),
        millis(quantile(report.ok(), 0.99)),
        millis(quantile(report.ok(), 1.0)),
        counts.len(),
        warm_rss as f64 / 1048576.0,
        peak_rss as f64 / 1048576.0,
        end_rss as f64 / 1048576.0,
    );
}
