//! Faults under load: Redis crashes (SIGKILL, restart from its AOF) and Redis stalls (SIGSTOP:
//! accepts TCP, never answers) while 64 connections post visits. `redis_faults.rs` in the API
//! tests covers single requests; these drills add concurrency, latency figures and the
//! acknowledged-increment audit.

use std::time::{Duration, Instant};

use crate::helpers::{BinaryApp, RedisServer};
use crate::load::{self, millis, quantile, Load, Outcome, Report, Sample};

const CONNECTIONS: usize = 64;
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// The most one request may wait on Redis: a checkout (connect, or recycle ping) plus the command.
const FAILURE_BOUND: Duration = CONNECT_TIMEOUT
    .saturating_add(COMMAND_TIMEOUT)
    .saturating_add(COMMAND_TIMEOUT);
/// Scheduling noise on a shared 2-core machine, on top of the configured bound.
const SLACK: Duration = Duration::from_millis(250);
const RECOVERY_BUDGET: Duration = Duration::from_secs(2);

fn app_env(redis: &RedisServer) -> Vec<(&'static str, String)> {
    let mut env = redis.env();
    env.push((
        "REDIS_COMMAND_TIMEOUT_MS",
        COMMAND_TIMEOUT.as_millis().to_string(),
    ));
    env.push((
        "REDIS_CONNECT_TIMEOUT_MS",
        CONNECT_TIMEOUT.as_millis().to_string(),
    ));
    env
}

/// Polls `url` every 50 ms until `until`; returns (when, status) pairs.
fn watch(url: String, until: Instant) -> std::thread::JoinHandle<Vec<(Instant, u16)>> {
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut seen = Vec::new();
        while Instant::now() < until {
            let status = client.get(&url).send().map_or(0, |r| r.status().as_u16());
            seen.push((Instant::now(), status));
            std::thread::sleep(Duration::from_millis(50));
        }
        seen
    })
}

/// The routes a Redis fault must not reach, polled until `until`.
type Watchers = Vec<(&'static str, std::thread::JoinHandle<Vec<(Instant, u16)>>)>;

fn watch_unaffected(app: &BinaryApp, until: Instant) -> Watchers {
    ["/readyz", "/"]
        .into_iter()
        .map(|path| (path, watch(app.url(path), until)))
        .collect()
}

fn joined(watchers: Watchers) -> Vec<(&'static str, Vec<(Instant, u16)>)> {
    watchers
        .into_iter()
        .map(|(path, watcher)| (path, watcher.join().unwrap()))
        .collect()
}

/// Time from `since` to the first 200 sent after it, and to the last failure (zero if none):
/// after the latter every request succeeds again.
fn recovery_after(report: &Report, since: Instant) -> (Duration, Duration) {
    let first_success = report
        .ok()
        .filter(|s| s.sent >= since)
        .map(|s| s.done() - since)
        .min()
        .expect("a 200 after the fault ended");
    let last_failure = report
        .failed()
        .map(|s| s.done().saturating_duration_since(since))
        .max()
        .unwrap_or_default();
    (first_success, last_failure)
}

fn assert_failures_are_fast_503s<'a>(failures: impl Iterator<Item = &'a Sample>) -> Vec<Sample> {
    let failures: Vec<Sample> = failures.copied().collect();
    for failure in &failures {
        assert!(
            matches!(failure.outcome, Outcome::Status(503, _)),
            "a failure that is not a 503: {failure:?}"
        );
        assert!(
            failure.latency <= FAILURE_BOUND + SLACK,
            "a failure took {:?}, beyond the {FAILURE_BOUND:?} bound",
            failure.latency
        );
    }
    failures
}

fn assert_still_serving(app: &mut BinaryApp) {
    assert!(app.child.try_wait().unwrap().is_none(), "greeter exited");
    assert!(!app.logs().contains("panicked"), "a panic was logged");
}

/// Every acknowledged count is distinct and at most the stored counter. The counter may be
/// higher: an INCR that Redis applied after the client's timeout was answered with a 503.
fn assert_acknowledged_in_redis(report: &Report, redis: &RedisServer) -> (usize, u64) {
    let counts = report.assert_acknowledged_counts_distinct();
    let stored = load::redis_counter(redis.port);
    assert!(
        counts.last().is_none_or(|&max| max <= stored) && counts.len() as u64 <= stored,
        "Redis holds {stored} but {} increments were acknowledged (max {:?})",
        counts.len(),
        counts.last()
    );
    (counts.len(), stored)
}

/// What every fault drill asserts once its load has run: the process still serves, failures are
/// fast 503s, readiness and the greeting stayed 200 throughout (Redis is not a readiness
/// dependency), failures stop within the recovery budget, and every acknowledged increment is
/// in Redis. Prints the drill's figures.
fn assert_fault_survived(
    name: &str,
    app: &mut BinaryApp,
    redis: &RedisServer,
    report: &Report,
    unaffected: &[(&str, Vec<(Instant, u16)>)],
    fault_started: Instant,
    fault_ended: Instant,
) {
    assert_still_serving(app);
    let failures = assert_failures_are_fast_503s(report.failed());
    assert!(
        !failures.is_empty(),
        "{name}: the fault produced no failures"
    );
    for (path, seen) in unaffected {
        assert!(
            seen.iter()
                .any(|&(at, _)| at > fault_started && at < fault_ended),
            "{name}: {path} was not polled during the fault"
        );
        assert!(
            seen.iter().all(|&(_, status)| status == 200),
            "{name}: {path} did not stay 200 through the fault: {seen:?}"
        );
    }
    let (first_success, recovered) = recovery_after(report, fault_ended);
    assert!(
        recovered <= RECOVERY_BUDGET,
        "{name}: failures went on for {recovered:?} after the fault ended"
    );
    let (acknowledged, stored) = assert_acknowledged_in_redis(report, redis);
    println!(
        "DRILL {name}: connections={CONNECTIONS} fault={}ms requests={} {} failure_p50={} failure_p99={} failure_max={} bound={} first_200_after_fault={} all_200_after_fault={} acknowledged={acknowledged} redis_counter={stored}",
        (fault_ended - fault_started).as_millis(),
        report.samples.len(),
        report.outcomes(),
        millis(quantile(failures.iter(), 0.5)),
        millis(quantile(failures.iter(), 0.99)),
        millis(quantile(failures.iter(), 1.0)),
        millis(FAILURE_BOUND),
        millis(first_success),
        millis(recovered),
    );
}

#[test]
fn redis_killed_under_load_fails_fast_recovers_and_keeps_acknowledged_increments() {
    let _exclusive = load::exclusive();
    let mut redis = RedisServer::start();
    let mut app = BinaryApp::start(&app_env(&redis));
    let (before, outage, after) = (
        Duration::from_secs(1),
        Duration::from_secs(1),
        Duration::from_secs(2),
    );

    let runtime = load::client_runtime();
    let started = Instant::now();
    let run = runtime.spawn(
        Load::post_visits(
            &app.url(""),
            CONNECTIONS,
            before + outage + after + Duration::from_secs(1),
        )
        .run(),
    );
    let watchers = watch_unaffected(&app, started + before + outage + after);
    std::thread::sleep(before);
    let killed = Instant::now();
    redis.kill();
    std::thread::sleep(outage);
    redis.restart();
    let back = Instant::now();
    let report = runtime.block_on(run).unwrap();

    assert_fault_survived(
        "redis-kill",
        &mut app,
        &redis,
        &report,
        &joined(watchers),
        killed,
        back,
    );
}

#[test]
fn paused_redis_under_load_fails_within_the_timeout_and_recovers() {
    let _exclusive = load::exclusive();
    let redis = RedisServer::start();
    let mut app = BinaryApp::start(&app_env(&redis));
    let (before, stall, after) = (
        Duration::from_secs(1),
        Duration::from_secs(2),
        Duration::from_secs(2),
    );

    let runtime = load::client_runtime();
    let started = Instant::now();
    let run =
        runtime.spawn(Load::post_visits(&app.url(""), CONNECTIONS, before + stall + after).run());
    let watchers = watch_unaffected(&app, started + before + stall + after);
    std::thread::sleep(before);
    let paused = Instant::now();
    let pid = redis.pid() as i32;
    // RedisServer's Drop resumes a paused server too, should anything here panic.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(stall);
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let resumed = Instant::now();
    let report = runtime.block_on(run).unwrap();

    assert_fault_survived(
        "redis-pause",
        &mut app,
        &redis,
        &report,
        &joined(watchers),
        paused,
        resumed,
    );
}
