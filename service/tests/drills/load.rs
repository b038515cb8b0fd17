//! Closed-loop load generator: `connections` tasks, each sending one request at a time over its
//! own keep-alive connection, bounded by time, by a stop flag and by a request budget. Every
//! response is kept as a sample so drills can slice them by time around the faults they inject.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Load drills measure latency: they run one at a time, never beside another load drill.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOAD: Mutex<()> = Mutex::new(());
    LOAD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `DRILL_SOAK_SECONDS` / `DRILL_PHASE_SECONDS`: scripts/drill raises them for the long variants.
pub fn seconds_from_env(name: &str, default: u64) -> Duration {
    let seconds = std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not whole seconds"))
        })
        .unwrap_or(default);
    Duration::from_secs(seconds)
}

/// For drills that measure throughput, leaks or shutdown rather than timeouts. The default 250 ms
/// Redis command timeout is the production bound and the fault drills keep it; on this shared
/// 2-core machine (a debug build, the client, Redis and other compiles side by side) about 1 % of
/// INCRs at 64 connections queued past 250 ms and became 503s.
pub fn relaxed_command_timeout() -> (&'static str, String) {
    ("REDIS_COMMAND_TIMEOUT_MS", "1000".into())
}

/// `RUST_LOG` for drills under load: `DRILL_RUST_LOG`, else `warn`. Access logs are written
/// synchronously on the actix worker threads, here to a file on a disk shared with compiles. Two
/// 60 s soaks with them on under heavy compile I/O had ~0.07 % 503s (Redis commands timed out
/// behind a stalled worker); with them off, none (docs/reliability.md, findings). Warnings and
/// errors still log; scripts/drill runs with `info`.
pub fn access_log_filter() -> String {
    std::env::var("DRILL_RUST_LOG").unwrap_or_else(|_| "warn".into())
}

/// Turns Redis persistence off for drills about the service rather than the disk: the harness
/// runs Redis with `appendfsync always` (the kill drill needs it), so every INCR would also wait
/// for an fsync on a disk shared with compiles.
pub fn without_persistence(redis: &crate::helpers::RedisServer) {
    assert!(redis.command("CONFIG SET appendonly no").starts_with("+OK"));
}

/// A runtime for the client side, separate from the threads the drill uses to inject faults.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// An HTTP status, and for a 200 from `/visits` the count it acknowledged.
    Status(u16, Option<u64>),
    /// No HTTP response: refused, reset or timed out.
    Transport,
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub sent: Instant,
    pub latency: Duration,
    pub outcome: Outcome,
}

impl Sample {
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Status(200, _))
    }

    pub fn done(&self) -> Instant {
        self.sent + self.latency
    }
}

pub struct Load {
    pub url: String,
    pub connections: usize,
    pub duration: Duration,
    /// Tasks stop sending once this is set (e.g. by a readiness watcher).
    pub stop: Arc<AtomicBool>,
}

impl Load {
    pub fn post_visits(base: &str, connections: usize, duration: Duration) -> Self {
        Self {
            url: format!("{base}/visits"),
            connections,
            duration,
            stop: Arc::default(),
        }
    }

    /// Runs the load to completion. A request budget bounds memory whatever the duration.
    pub async fn run(self) -> Report {
        const MAX_REQUESTS_PER_CONNECTION: usize = 50_000;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(self.connections)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let started = Instant::now();
        let deadline = started + self.duration;
        let tasks: Vec<_> = (0..self.connections)
            .map(|_| {
                let (client, url, stop) = (client.clone(), self.url.clone(), self.stop.clone());
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    while Instant::now() < deadline
                        && !stop.load(Ordering::Relaxed)
                        && samples.len() < MAX_REQUESTS_PER_CONNECTION
                    {
                        let sent = Instant::now();
                        let outcome = match client.post(&url).send().await {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                let body = response.bytes().await.unwrap_or_default();
                                let visits = serde_json::from_slice::<serde_json::Value>(&body)
                                    .ok()
                                    .and_then(|b| b["visits"].as_u64());
                                Outcome::Status(status, visits)
                            }
                            Err(_) => Outcome::Transport,
                        };
                        samples.push(Sample {
                            sent,
                            latency: sent.elapsed(),
                            outcome,
                        });
                    }
                    samples
                })
            })
            .collect();
        let mut samples = Vec::new();
        for task in tasks {
            samples.extend(task.await.unwrap());
        }
        samples.sort_by_key(|s| s.sent);
        Report {
            samples,
            elapsed: started.elapsed(),
        }
    }
}

pub struct Report {
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
}

impl Report {
    pub fn ok(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(|s| s.is_ok())
    }

    pub fn failed(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(|s| !s.is_ok())
    }

    pub fn requests_per_second(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Every count a 200 acknowledged.
    pub fn acknowledged(&self) -> Vec<u64> {
        self.ok()
            .map(|s| match s.outcome {
                Outcome::Status(_, Some(visits)) => visits,
                other => panic!("a 200 without a visit count: {other:?}"),
            })
            .collect()
    }

    /// Panics unless no two 200s acknowledged the same count: a lost increment (or a replayed
    /// one) would hand out a count twice.
    pub fn assert_acknowledged_counts_distinct(&self) -> Vec<u64> {
        let mut counts = self.acknowledged();
        counts.sort_unstable();
        let before = counts.len();
        counts.dedup();
        assert_eq!(counts.len(), before, "two 200s acknowledged the same count");
        counts
    }

    /// A one-line summary of the outcomes, e.g. `200=1234 503=56 transport=0`.
    pub fn outcomes(&self) -> String {
        let mut counts = std::collections::BTreeMap::new();
        for sample in &self.samples {
            let key = match sample.outcome {
                Outcome::Status(status, _) => status.to_string(),
                Outcome::Transport => "transport".into(),
            };
            *counts.entry(key).or_insert(0u64) += 1;
        }
        counts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The `q` quantile (0..=1) of the latencies, nearest rank; zero for no samples.
pub fn quantile<'a>(samples: impl Iterator<Item = &'a Sample>, q: f64) -> Duration {
    let mut latencies: Vec<Duration> = samples.map(|s| s.latency).collect();
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    latencies.sort_unstable();
    let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
    latencies[rank - 1]
}

pub fn millis(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

/// Resident set size of a process, from /proc.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kib * 1024
}

/// The visit counter straight from Redis.
pub fn redis_counter(port: u16) -> u64 {
    let reply = crate::helpers::redis_command(port, "GET greeter:visits").expect("redis answers");
    // `$<len>\r\n<digits>\r\n`, or `$-1` when the key does not exist.
    reply
        .lines()
        .nth(1)
        .map_or(0, |digits| digits.trim().parse().expect("a number"))
}
