//! The Prometheus registry and the service's own metrics (names documented in docs/metrics.md).

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::build_info::BuildInfo;
use crate::redis_pool::RedisPool;

/// Buckets resolving the 250 ms latency SLO.
const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Visit store operations are sub-millisecond when healthy; the top buckets catch timeouts.
const STORE_BUCKETS: &[f64] = &[
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// Requests per Redis command: 1 when idle, up to the connections a worker serves under load.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    pub store_operations: IntCounterVec,
    pub store_errors: IntCounterVec,
    pub store_duration: HistogramVec,
    pub store_up: IntGaugeVec,
    pub store_batch_size: HistogramVec,
    pub auth_attempts: IntCounterVec,
    pub secrets: SecretsMetrics,
}

/// Requests answered on the public port (recorded by `crate::http_metrics`), labelled
/// `endpoint` (route pattern), `method`, `status` and `traffic` (`crate::traffic`).
#[derive(Clone)]
pub struct HttpMetrics {
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
}

/// Reloads of the secret files (`SECRETS_DIR`).
#[derive(Clone)]
pub struct SecretsMetrics {
    pub applied: IntCounter,
    pub rejected: IntCounter,
    /// 0 while the files hold a set that was refused (the last good one stays in use).
    pub last_reload_successful: IntGauge,
}

impl Metrics {
    pub fn new(build: &BuildInfo) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let build_info = IntGaugeVec::new(
            Opts::new(
                "greeter_build_info",
                "Version and git revision of the running binary; always 1",
            ),
            &["version", "revision"],
        )?;
        build_info
            .with_label_values(&[build.version, build.revision])
            .set(1);
        let secret_reloads = IntCounterVec::new(
            Opts::new(
                "greeter_secrets_reloads_total",
                "Changes of the secret files applied or refused (outcome)",
            ),
            &["outcome"],
        )?;
        let last_reload_successful = IntGauge::new(
            "greeter_secrets_last_reload_successful",
            "Whether the secret files hold the secrets in use: 0 while a changed set is refused and the last good one stays in use",
        )?;
        last_reload_successful.set(1);
        let http_labels = ["endpoint", "method", "status", "traffic"];
        let metrics = Self {
            http: HttpMetrics {
                requests: IntCounterVec::new(
                    Opts::new(
                        "greeter_http_requests_total",
                        "Requests answered on the public port",
                    ),
                    &http_labels,
                )?,
                duration: HistogramVec::new(
                    HistogramOpts::new(
                        "greeter_http_requests_duration_seconds",
                        "Time from receiving a request to its response being ready",
                    )
                    .buckets(HTTP_BUCKETS.to_vec()),
                    &http_labels,
                )?,
            },
            store_operations: IntCounterVec::new(
                Opts::new(
                    "greeter_visit_store_operations_total",
                    "Visit store operations attempted",
                ),
                &["operation", "backend"],
            )?,
            store_errors: IntCounterVec::new(
                Opts::new(
                    "greeter_visit_store_errors_total",
                    "Visit store operations that failed",
                ),
                &["operation", "backend", "kind"],
            )?,
            store_duration: HistogramVec::new(
                HistogramOpts::new(
                    "greeter_visit_store_operation_duration_seconds",
                    "Time per visit store operation, pool checkout included",
                )
                .buckets(STORE_BUCKETS.to_vec()),
                &["operation", "backend"],
            )?,
            store_up: IntGaugeVec::new(
                Opts::new(
                    "greeter_visit_store_up",
                    "1 when the last visit store operation succeeded",
                ),
                &["backend"],
            )?,
            store_batch_size: HistogramVec::new(
                HistogramOpts::new(
                    "greeter_visit_store_batch_size",
                    "Requests answered by one Redis command (concurrent requests on a worker share one)",
                )
                .buckets(BATCH_BUCKETS.to_vec()),
                &["operation", "backend"],
            )?,
            auth_attempts: IntCounterVec::new(
                Opts::new(
                    "greeter_auth_attempts_total",
                    "Authentication decisions on /secret",
                ),
                &["scheme", "outcome"],
            )?,
            secrets: SecretsMetrics {
                applied: secret_reloads.with_label_values(&["applied"]),
                rejected: secret_reloads.with_label_values(&["rejected"]),
                last_reload_successful: last_reload_successful.clone(),
            },
            registry,
        };
        let collectors: [Box<dyn Collector>; 11] = [
            Box::new(metrics.http.requests.clone()),
            Box::new(metrics.http.duration.clone()),
            Box::new(build_info),
            Box::new(metrics.store_operations.clone()),
            Box::new(metrics.store_errors.clone()),
            Box::new(metrics.store_duration.clone()),
            Box::new(metrics.store_up.clone()),
            Box::new(metrics.store_batch_size.clone()),
            Box::new(metrics.auth_attempts.clone()),
            Box::new(secret_reloads),
            Box::new(last_reload_successful),
        ];
        for collector in collectors {
            metrics.registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// Exposes the Redis pool's state, read at scrape time.
    pub fn register_pool(&self, pool: RedisPool) -> Result<(), prometheus::Error> {
        self.registry.register(Box::new(PoolCollector::new(pool)?))
    }
}

struct PoolCollector {
    pool: RedisPool,
    max_size: IntGauge,
    size: IntGauge,
    available: IntGauge,
    waiting: IntGauge,
    descs: Vec<Desc>,
}

impl PoolCollector {
    fn new(pool: RedisPool) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| IntGauge::new(name, help);
        let max_size = gauge(
            "greeter_visit_store_pool_max_size",
            "Maximum pooled Redis connections",
        )?;
        let size = gauge(
            "greeter_visit_store_pool_size",
            "Open Redis connections, idle and checked out",
        )?;
        let available = gauge(
            "greeter_visit_store_pool_available",
            "Idle Redis connections in the pool",
        )?;
        let waiting = gauge(
            "greeter_visit_store_pool_waiting",
            "Tasks waiting for a Redis connection",
        )?;
        let descs = [&max_size, &size, &available, &waiting]
            .iter()
            .flat_map(|g| g.desc().into_iter().cloned())
            .collect();
        Ok(Self {
            pool,
            max_size,
            size,
            available,
            waiting,
            descs,
        })
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let status = self.pool.status();
        self.max_size.set(status.max_size as i64);
        self.size.set(status.size as i64);
        self.available.set(status.available as i64);
        self.waiting.set(status.waiting as i64);
        [&self.max_size, &self.size, &self.available, &self.waiting]
            .iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}
