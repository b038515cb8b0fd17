//! The visit counter: Redis through deadpool-redis, or process memory when no Redis is configured.
//!
//! Hot path, measured in docs/benchmarks.md:
//! - deadpool's checkout recycles every connection with an UNWATCH+PING round trip (~3x slower
//!   than reusing one multiplexed connection), so each actix worker keeps one checked-out pooled
//!   connection and clones its `MultiplexedConnection`. The pool still owns the lifecycle: after a
//!   failure the worker hands the connection back, and the next checkout's recycle ping discards it
//!   and connects afresh.
//! - Group commit: the increments that arrive on one worker while its previous `INCRBY` is on the
//!   wire share the next one. `INCRBY n` answers the count after all n, so each request takes its
//!   own number from the n it reserved: counts stay exact and unique, and Redis and the client
//!   handle one command per batch instead of one per request. Reads coalesce the same way. A
//!   request only ever joins a batch that has not been sent yet, so it reads every write that was
//!   acknowledged before it arrived.
//!
//! Synthetic traffic (`X-Greeter-Traffic: synthetic`) counts on a counter of its own,
//! `<REDIS_KEY>:synthetic`, through the same commands, batches and timeouts, so that it exercises
//! a canary's Redis path without changing the visit count clients see.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use deadpool::managed::Object;
use deadpool_redis::redis;
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::Runtime;
use prometheus::{Histogram, IntCounter, IntGauge};
use secrecy::SecretString;
use tokio::time::{timeout_at, Instant, MissedTickBehavior};

use crate::configuration::RedisSettings;
use crate::metrics::Metrics;
use crate::redis_pool::{RedisPool, RotatingManager};
use crate::traffic::TrafficClass;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Unavailable(String),
}

impl StoreError {
    fn kind(&self) -> &'static str {
        match self {
            StoreError::Timeout(_) => "timeout",
            StoreError::Unavailable(_) => "unavailable",
        }
    }
}

#[derive(Clone, Copy)]
enum Operation {
    Incr,
    Get,
    Ping,
}

impl Operation {
    const ALL: [Operation; 3] = [Operation::Incr, Operation::Get, Operation::Ping];

    fn label(self) -> &'static str {
        match self {
            Operation::Incr => "incr",
            Operation::Get => "get",
            Operation::Ping => "ping",
        }
    }

    /// `None` for the health ping: it runs on its own, outside any request, and as a span it
    /// would export a one-span trace every few seconds. Its metrics and warnings say enough.
    fn span_name(self) -> Option<&'static str> {
        match self {
            Operation::Incr => Some("visit_store.incr"),
            Operation::Get => Some("visit_store.get"),
            Operation::Ping => None,
        }
    }
}

enum Backend {
    /// Indexed by `TrafficClass`.
    Memory([AtomicU64; 2]),
    Redis(RedisBackend),
}

struct RedisBackend {
    pool: RedisPool,
    /// The counters' keys, indexed by `TrafficClass`.
    keys: [String; 2],
    command_timeout: Duration,
    checkout_timeout: Duration,
    /// Requests per `INCRBY` and per `GET`, indexed by `Batched`.
    batch_sizes: [Histogram; 2],
}

/// One operation's metric series, resolved once: label lookups hash and lock on every call.
struct OperationMetrics {
    attempts: IntCounter,
    duration: Histogram,
}

/// The store shared by all workers.
pub struct VisitStore {
    backend: Backend,
    metrics: Metrics,
    operations: [OperationMetrics; 3],
    up: IntGauge,
    /// `FAULT_VISIT_STORE_DELAY_MS`: how much later than it could every answer comes.
    stall: Duration,
}

impl VisitStore {
    pub fn memory(metrics: Metrics, stall: Duration) -> Arc<Self> {
        Self::new(Backend::Memory(Default::default()), metrics, stall)
    }

    /// `key` counts client visits, `<key>:synthetic` synthetic ones.
    pub fn redis(
        settings: &RedisSettings,
        password: Option<&SecretString>,
        key: String,
        metrics: Metrics,
        stall: Duration,
    ) -> Result<Arc<Self>, String> {
        let manager = RotatingManager::new(settings, password)?;
        let pool = RedisPool::builder(manager)
            .max_size(settings.pool_size)
            .wait_timeout(Some(settings.connect_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.command_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| e.to_string())?;
        metrics
            .register_pool(pool.clone())
            .map_err(|e| e.to_string())?;
        let backend = Backend::Redis(RedisBackend {
            pool,
            keys: TrafficClass::ALL.map(|traffic| counter_key(&key, traffic)),
            command_timeout: settings.command_timeout,
            // Bounds wait + create + recycle together, whatever deadpool does inside.
            checkout_timeout: settings.connect_timeout + settings.command_timeout,
            batch_sizes: Batched::ALL.map(|batched| {
                metrics
                    .store_batch_size
                    .with_label_values(&[batched.operation().label(), "redis"])
            }),
        });
        Ok(Self::new(backend, metrics, stall))
    }

    fn new(backend: Backend, metrics: Metrics, stall: Duration) -> Arc<Self> {
        let name = backend_name(&backend);
        let operations = Operation::ALL.map(|operation| {
            let labels = [operation.label(), name];
            OperationMetrics {
                attempts: metrics.store_operations.with_label_values(&labels),
                duration: metrics.store_duration.with_label_values(&labels),
            }
        });
        let up = metrics.store_up.with_label_values(&[name]);
        Arc::new(Self {
            backend,
            metrics,
            operations,
            up,
            stall,
        })
    }

    pub fn backend_name(&self) -> &'static str {
        backend_name(&self.backend)
    }

    fn metrics_of(&self, operation: Operation) -> &OperationMetrics {
        &self.operations[operation as usize]
    }

    /// New Redis connections authenticate with `password` from now on (a rotated secret).
    pub fn set_redis_password(&self, password: Option<&SecretString>) -> Result<(), String> {
        match &self.backend {
            Backend::Redis(redis) => redis.pool.manager().set_password(password),
            Backend::Memory(_) => Ok(()),
        }
    }

    /// Closes the Redis pool: called after the HTTP server has drained.
    pub fn close(&self) {
        if let Backend::Redis(redis) = &self.backend {
            redis.pool.close();
        }
    }
}

/// `REDIS_KEY` counts client visits; `<REDIS_KEY>:synthetic` synthetic ones.
fn counter_key(key: &str, traffic: TrafficClass) -> String {
    match traffic {
        TrafficClass::Client => key.to_string(),
        TrafficClass::Synthetic => format!("{key}:{}", traffic.label()),
    }
}

fn backend_name(backend: &Backend) -> &'static str {
    match backend {
        Backend::Memory(_) => "memory",
        Backend::Redis(_) => "redis",
    }
}

/// One worker's view of the store: the shared store, the worker's cached connection and its
/// batches. Not `Send`: it lives on one actix worker thread.
pub struct WorkerVisitStore {
    worker: Rc<Worker>,
}

struct Worker {
    store: Arc<VisitStore>,
    connection: RefCell<Option<(Object<RotatingManager>, MultiplexedConnection)>>,
    /// Indexed by `TrafficClass`, then `Batched`: each counter has batches of its own.
    lanes: [[Lane; 2]; 2],
}

/// The Redis commands that requests share.
#[derive(Clone, Copy)]
enum Batched {
    Incr,
    Get,
}

impl Batched {
    const ALL: [Batched; 2] = [Batched::Incr, Batched::Get];

    fn operation(self) -> Operation {
        match self {
            Batched::Incr => Operation::Incr,
            Batched::Get => Operation::Get,
        }
    }
}

impl WorkerVisitStore {
    pub fn new(store: Arc<VisitStore>) -> Self {
        Self {
            worker: Rc::new(Worker {
                store,
                connection: RefCell::new(None),
                lanes: Default::default(),
            }),
        }
    }

    /// Atomically adds one visit to the traffic class's counter and returns its new count.
    pub async fn increment(&self, traffic: TrafficClass) -> Result<u64, StoreError> {
        let store = &self.worker.store;
        self.observe(Operation::Incr, async {
            match &store.backend {
                Backend::Memory(counts) => {
                    stalled(store.stall, async {
                        Ok(counts[traffic as usize].fetch_add(1, Ordering::SeqCst) + 1)
                    })
                    .await
                }
                Backend::Redis(_) => {
                    let (batch, position) = Worker::join(&self.worker, traffic, Batched::Incr);
                    let last = batch.outcome().await?;
                    // `INCRBY size` answered `last`: the batch's counts are last-size+1 ..= last.
                    count(last - batch.size.get() + 1 + position)
                }
            }
        })
        .await
    }

    /// The traffic class's count.
    pub async fn count(&self, traffic: TrafficClass) -> Result<u64, StoreError> {
        let store = &self.worker.store;
        self.observe(Operation::Get, async {
            match &store.backend {
                Backend::Memory(counts) => {
                    stalled(store.stall, async {
                        Ok(counts[traffic as usize].load(Ordering::SeqCst))
                    })
                    .await
                }
                Backend::Redis(_) => {
                    let (batch, _) = Worker::join(&self.worker, traffic, Batched::Get);
                    count(batch.outcome().await?)
                }
            }
        })
        .await
    }

    /// Pings the store every `interval`, for ever, so that `greeter_visit_store_up` (and the
    /// `GreeterRedisDown` alert) follows Redis with or without traffic. Readiness does not
    /// depend on Redis (docs/architecture.md), so nothing else would notice an idle outage.
    pub async fn ping_every(&self, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // The outcome is recorded (metrics, warning log) by `observe`.
            let _ = self.ping().await;
        }
    }

    /// The store answers a ping within its timeout. Not batched: it checks the connection,
    /// every time.
    async fn ping(&self) -> Result<(), StoreError> {
        let store = &self.worker.store;
        self.observe(Operation::Ping, async {
            match &store.backend {
                Backend::Memory(_) => stalled(store.stall, async { Ok(()) }).await,
                Backend::Redis(redis) => {
                    let deadline = Instant::now() + redis.checkout_timeout + redis.command_timeout;
                    let _: String = self
                        .worker
                        .query(redis, &redis::cmd("PING"), deadline)
                        .await?;
                    Ok(())
                }
            }
        })
        .await
    }

    async fn observe<T>(
        &self,
        operation: Operation,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let store = &self.worker.store;
        let backend = store.backend_name();
        let metrics = store.metrics_of(operation);
        metrics.attempts.inc();
        let started = Instant::now();
        // A child of the request span, never entered: nothing logs inside it, and entering it on
        // every poll cost more than building it (docs/benchmarks.md). Closed when dropped.
        let span = match operation.span_name() {
            Some(name) => tracing::info_span!("visit_store", otel.name = name, backend),
            None => tracing::Span::none(),
        };
        let result = work.await;
        drop(span);
        metrics.duration.observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => store.up.set(1),
            Err(e) => {
                store
                    .metrics
                    .store_errors
                    .with_label_values(&[operation.label(), backend, e.kind()])
                    .inc();
                store.up.set(0);
                tracing::warn!(operation = operation.label(), error = %e, "visit store operation failed");
            }
        }
        result
    }
}

/// `answer`, `stall` later: what `FAULT_VISIT_STORE_DELAY_MS` makes of every store call. Around a
/// Redis command it runs inside the command timeout, like a Redis that answers late.
async fn stalled<T>(stall: Duration, answer: impl Future<Output = T>) -> T {
    if !stall.is_zero() {
        tokio::time::sleep(stall).await;
    }
    answer.await
}

/// A count as the API returns it: someone may have set the key below zero.
fn count(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::Unavailable(format!("the stored count is negative ({value})")))
}

impl Worker {
    /// Joins the lane's open batch, or opens one and starts the task that sends it. Returns the
    /// batch and this request's position in it.
    fn join(this: &Rc<Self>, traffic: TrafficClass, batched: Batched) -> (Rc<Batch>, i64) {
        let mut open = this.lanes[traffic as usize][batched as usize]
            .open
            .borrow_mut();
        if let Some(batch) = open.as_ref() {
            let position = batch.size.get();
            batch.size.set(position + 1);
            return (batch.clone(), position);
        }
        let batch = Rc::new(Batch::new());
        *open = Some(batch.clone());
        // A task of its own, not the first request's future: a request dropped by its client
        // must not strand the others in its batch.
        actix_web::rt::spawn(Self::send(this.clone(), traffic, batched, batch.clone()));
        (batch, 0)
    }

    /// Waits until the lane's previous batch is answered, closes this one and sends it as one
    /// command. Each request in it is answered within one checkout plus one command timeout of
    /// the batch opening, as if it were alone.
    async fn send(self: Rc<Self>, traffic: TrafficClass, batched: Batched, batch: Rc<Batch>) {
        let Backend::Redis(redis) = &self.store.backend else {
            unreachable!("only Redis commands are batched")
        };
        let deadline = batch.opened + redis.checkout_timeout + redis.command_timeout;
        let lane = &self.lanes[traffic as usize][batched as usize];
        let key = &redis.keys[traffic as usize];
        let on_the_wire = timeout_at(deadline, lane.on_the_wire.lock()).await;
        // Closed whether it is sent or timed out waiting: later requests open the next batch.
        lane.open.borrow_mut().take();
        let outcome = match on_the_wire {
            Err(_) => Err(StoreError::Timeout(redis.command_timeout)),
            Ok(_on_the_wire) => {
                let size = batch.size.get();
                redis.batch_sizes[batched as usize].observe(size as f64);
                match batched {
                    Batched::Incr => {
                        let cmd = redis::cmd("INCRBY").arg(key).arg(size).to_owned();
                        self.query(redis, &cmd, deadline).await
                    }
                    Batched::Get => {
                        let cmd = redis::cmd("GET").arg(key).to_owned();
                        let value: Result<Option<i64>, _> = self.query(redis, &cmd, deadline).await;
                        value.map(|value| value.unwrap_or(0))
                    }
                }
            }
        };
        batch.finish(outcome);
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        redis: &RedisBackend,
        cmd: &redis::Cmd,
        deadline: Instant,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection(redis, deadline).await?;
        let command_deadline = deadline.min(Instant::now() + redis.command_timeout);
        let answer = stalled(self.store.stall, cmd.query_async(&mut conn));
        let result = match timeout_at(command_deadline, answer).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => StoreError::Unavailable(e.to_string()),
            Err(_) => StoreError::Timeout(redis.command_timeout),
        };
        // Hand the connection back; the pool's recycle ping decides whether it is still usable.
        self.connection.borrow_mut().take();
        Err(result)
    }

    async fn connection(
        &self,
        redis: &RedisBackend,
        deadline: Instant,
    ) -> Result<MultiplexedConnection, StoreError> {
        if let Some((_, conn)) = self.connection.borrow().as_ref() {
            return Ok(conn.clone());
        }
        let checkout_deadline = deadline.min(Instant::now() + redis.checkout_timeout);
        let pooled = match timeout_at(checkout_deadline, redis.pool.get()).await {
            Ok(Ok(pooled)) => pooled,
            Ok(Err(e)) => return Err(StoreError::Unavailable(e.to_string())),
            Err(_) => return Err(StoreError::Timeout(redis.checkout_timeout)),
        };
        let conn = MultiplexedConnection::clone(&pooled);
        *self.connection.borrow_mut() = Some((pooled, conn.clone()));
        Ok(conn)
    }
}

/// One command's batches on one worker: at most one on the wire, one filling up.
#[derive(Default)]
struct Lane {
    /// The batch taking requests; `None` once it is sent.
    open: RefCell<Option<Rc<Batch>>>,
    /// Held while a batch is on the wire, so that the requests arriving meanwhile share the next.
    on_the_wire: tokio::sync::Mutex<()>,
}

/// Requests sharing one Redis command, and its answer once it came.
struct Batch {
    opened: Instant,
    size: Cell<i64>,
    outcome: OnceCell<Result<i64, StoreError>>,
    waiting: RefCell<Vec<Waker>>,
}

impl Batch {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            size: Cell::new(1),
            outcome: OnceCell::new(),
            waiting: RefCell::new(Vec::new()),
        }
    }

    fn finish(&self, outcome: Result<i64, StoreError>) {
        let _ = self.outcome.set(outcome);
        for waker in self.waiting.take() {
            waker.wake();
        }
    }

    async fn outcome(&self) -> Result<i64, StoreError> {
        poll_fn(|cx| match self.outcome.get() {
            Some(outcome) => Poll::Ready(outcome.clone()),
            None => {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_info::BUILD;

    /// A batch whose wait for the wire runs past its deadline must still close, or every later
    /// request would join it and get its stale error without anything being sent again.
    #[actix_web::test]
    async fn a_batch_timing_out_before_the_wire_frees_closes_for_the_next() {
        let unused_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = RedisSettings {
            host: "127.0.0.1".into(),
            port: unused_port,
            username: None,
            tls: false,
            pool_size: 1,
            connect_timeout: Duration::from_millis(50),
            command_timeout: Duration::from_millis(50),
        };
        let metrics = Metrics::new(&BUILD).unwrap();
        let store =
            VisitStore::redis(&settings, None, "visits".into(), metrics, Duration::ZERO).unwrap();
        let worker = WorkerVisitStore::new(store);

        let client = TrafficClass::Client;
        let held = worker.worker.lanes[client as usize][Batched::Incr as usize]
            .on_the_wire
            .lock()
            .await;
        let error = worker.increment(client).await.unwrap_err();
        assert!(matches!(error, StoreError::Timeout(_)), "{error:?}");
        drop(held);
        // A fresh batch is sent: nothing listens on the port, so the checkout fails at once.
        let error = worker.increment(client).await.unwrap_err();
        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    }

    #[test]
    fn a_negative_stored_count_is_an_error_not_a_wrapped_number() {
        assert_eq!(count(0).unwrap(), 0);
        assert_eq!(count(42).unwrap(), 42);
        let error = count(-3).unwrap_err();
        assert_eq!(error.to_string(), "the stored count is negative (-3)");
    }
}
