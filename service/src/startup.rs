//! Builds the application: the public server, the metrics server, shared state, and the
//! graceful shutdown sequence.

use std::future::Future;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{
    from_fn, Condition, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers, Next,
};
use actix_web::{web, App, HttpResponse, HttpServer};
use chrono::FixedOffset;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::task::JoinHandle;
use tracing_actix_web::TracingLogger;

use crate::build_info::BUILD;
use crate::configuration::{FaultSettings, SecretSettings, Settings};
use crate::error::{ApiError, Problem, PROBLEM_JSON};
use crate::metrics::Metrics;
use crate::routes::{self, SecretState};
use crate::swappable::Swappable;
use crate::telemetry::RequestSpans;
use crate::visit_store::{VisitStore, WorkerVisitStore};

/// How often the visit store is pinged to keep `greeter_visit_store_up` current: the kubelet's
/// readiness period, which is what used to ping it.
const STORE_PING_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot bind {what} port {port}: {source}")]
    Bind {
        what: &'static str,
        port: u16,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("visit store: {0}")]
    Store(String),
    #[error("server: {0}")]
    Server(#[from] std::io::Error),
}

/// Draining state: set on the first shutdown signal, read by `/readyz`.
#[derive(Clone, Default)]
pub struct Lifecycle(Arc<AtomicBool>);

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn start_draining(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// State shared by every worker.
pub struct AppState {
    pub greeting: String,
    pub timezone: FixedOffset,
    pub secret: Swappable<SecretState>,
    pub lifecycle: Lifecycle,
    pub metrics: Metrics,
    pub faults: FaultSettings,
}

pub struct Application {
    server: Server,
    metrics_server: Server,
    port: u16,
    metrics_port: u16,
    store: Arc<VisitStore>,
    background: BackgroundTasks,
    lifecycle: Lifecycle,
    shutdown_delay: Duration,
}

/// The store's health ping and the secret files' watch: stopped before the store closes (or
/// when an application that never ran is dropped).
struct BackgroundTasks(Vec<JoinHandle<()>>);

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

impl Application {
    /// Binds both ports and builds the servers; call inside the actix runtime.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let server_settings = &settings.server;
        let bind =
            |what, port| {
                TcpListener::bind((server_settings.host, port))
                    .map_err(|source| StartupError::Bind { what, port, source })
            };
        let listener = bind("public", server_settings.port)?;
        let metrics_listener = bind("metrics", server_settings.metrics_port)?;
        let port = listener.local_addr()?.port();
        let metrics_port = metrics_listener.local_addr()?.port();

        let metrics = Metrics::new(&BUILD).map_err(|e| StartupError::Metrics(e.to_string()))?;
        metrics
            .registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .map_err(|e| StartupError::Metrics(e.to_string()))?;

        let faults = settings.faults;
        if faults.any() {
            tracing::warn!(
                error_ratio = faults.error_ratio,
                visit_store_delay_ms = faults.visit_store_delay.as_millis() as u64,
                "fault injection is on: this instance fails on purpose (FAULT_* settings)"
            );
        }
        let store = match &settings.redis {
            Some(redis) => VisitStore::redis(
                redis,
                settings.secrets.redis_password.as_ref(),
                settings.redis_key.clone(),
                metrics.clone(),
                faults.visit_store_delay,
            )
            .map_err(StartupError::Store)?,
            None => {
                tracing::warn!(
                    "REDIS_HOST is not set: visits are kept in process memory and lost on restart"
                );
                VisitStore::memory(metrics.clone(), faults.visit_store_delay)
            }
        };

        let lifecycle = Lifecycle::default();
        let state = web::Data::new(AppState {
            greeting: settings.greeting.clone(),
            timezone: settings.timezone,
            secret: Swappable::new(SecretState::new(&settings.secrets.auth)),
            lifecycle: lifecycle.clone(),
            metrics: metrics.clone(),
            faults,
        });
        let pinged = WorkerVisitStore::new(store.clone());
        let mut background = vec![actix_web::rt::spawn(async move {
            pinged.ping_every(STORE_PING_INTERVAL).await
        })];
        if let Some(files) = settings.secret_files.clone() {
            let (state, store) = (state.clone(), store.clone());
            let apply = move |secrets: &SecretSettings| {
                store.set_redis_password(secrets.redis_password.as_ref())?;
                state.secret.replace(SecretState::new(&secrets.auth));
                Ok(())
            };
            background.push(actix_web::rt::spawn(crate::secrets::watch(
                files,
                metrics.secrets.clone(),
                apply,
            )));
        }
        let body_limit = server_settings.body_limit_bytes;
        let worker_store = store.clone();
        let server = HttpServer::new(move || {
            public_app(
                state.clone(),
                WorkerVisitStore::new(worker_store.clone()),
                body_limit,
            )
        })
        .workers(server_settings.workers)
        .client_request_timeout(server_settings.client_request_timeout)
        .shutdown_timeout(server_settings.shutdown_timeout.as_secs())
        .disable_signals()
        .listen(listener)?
        .run();

        let registry = metrics.registry.clone();
        let metrics_server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(registry.clone()))
                .route("/metrics", web::get().to(render_metrics))
                .default_service(web::to(not_found))
        })
        .workers(1)
        .shutdown_timeout(1)
        .disable_signals()
        .listen(metrics_listener)?
        .run();

        tracing::info!(
            port,
            metrics_port,
            visit_store = store.backend_name(),
            version = BUILD.version,
            revision = BUILD.revision,
            "greeter listening"
        );
        Ok(Self {
            server,
            metrics_server,
            port,
            metrics_port,
            store,
            background: BackgroundTasks(background),
            lifecycle,
            shutdown_delay: server_settings.shutdown_delay,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully. A second signal skips the
    /// remaining shutdown delay.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        let (first, second) = crate::shutdown::signals()?;
        self.run_until(first, second).await
    }

    /// Serves until `shutdown` completes, then: readiness fails at once; requests are served for
    /// the shutdown delay (cut short by `hurry`); the listener closes and in-flight requests drain
    /// within the shutdown timeout; the background tasks stop and the Redis pool closes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
        hurry: impl Future<Output = ()>,
    ) -> Result<(), StartupError> {
        let public_handle = self.server.handle();
        let metrics_handle = self.metrics_server.handle();
        let mut public = tokio::spawn(self.server);
        let metrics = tokio::spawn(self.metrics_server);

        tokio::select! {
            () = shutdown => {}
            ended = &mut public => {
                // The server stopped on its own: report why instead of waiting for a signal.
                metrics_handle.stop(false).await;
                drop(self.background);
                self.store.close();
                return ended.map_err(|e| std::io::Error::other(e.to_string()))?.map_err(Into::into);
            }
        }
        self.lifecycle.start_draining();
        tracing::info!(
            delay_seconds = self.shutdown_delay.as_secs(),
            "shutdown signal: readiness now failing, still serving during the delay"
        );
        tokio::select! {
            () = tokio::time::sleep(self.shutdown_delay) => {}
            () = hurry => tracing::warn!("second signal: skipping the rest of the shutdown delay"),
        }
        tracing::info!("closing the listener, draining in-flight requests");
        public_handle.stop(true).await;
        public
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        metrics_handle.stop(true).await;
        metrics
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        drop(self.background);
        self.store.close();
        tracing::info!("shutdown complete");
        Ok(())
    }
}

fn public_app(
    state: web::Data<AppState>,
    store: WorkerVisitStore,
    body_limit: usize,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let inject_errors = state.faults.error_ratio > 0.0;
    App::new()
        .app_data(state)
        .app_data(web::Data::new(store))
        .app_data(web::Data::new(BodyLimit(body_limit)))
        // Bounds bodies without a Content-Length (chunked) too.
        .app_data(web::PayloadConfig::new(body_limit))
        .service(get_only("/", web::get().to(routes::greet)))
        .service(
            web::resource("/visits")
                .route(web::post().to(routes::record_visit))
                .route(web::get().to(routes::count_visits))
                .default_service(web::to(|| method_not_allowed("GET, POST"))),
        )
        .service(get_only("/secret", web::get().to(routes::secret)))
        .service(get_only("/healthz", web::get().to(routes::healthz)))
        .service(get_only("/readyz", web::get().to(routes::readyz)))
        .service(get_only("/version", web::get().to(routes::version)))
        .service(get_only(
            "/openapi.json",
            web::get().to(crate::openapi::openapi_json),
        ))
        .default_service(web::to(not_found))
        // Innermost first: anything that is still a plain error becomes problem+json.
        .wrap(ErrorHandlers::new().default_handler(problem_for_plain_errors))
        .wrap(from_fn(reject_oversized_requests))
        .wrap(Condition::new(
            inject_errors,
            from_fn(crate::faults::inject_errors),
        ))
        .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
        .wrap(from_fn(crate::http_metrics::record_requests))
        .wrap(TracingLogger::<RequestSpans>::new())
}

fn get_only(path: &str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(|| method_not_allowed("GET")))
}

async fn method_not_allowed(allowed: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allowed })
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

struct BodyLimit(usize);

/// Request heads above this are refused (nginx's default allows 4 x 8 KiB header lines).
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// No endpoint takes a body: a declared length above the limit is refused before any read;
/// oversized heads are refused too.
async fn reject_oversized_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<BodyLimit>>()
        .map_or(usize::MAX, |l| l.0);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit }.into());
    }
    let head_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if head_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge {
            limit: MAX_HEADER_BYTES,
        }
        .into());
    }
    next.call(req).await
}

fn problem_for_plain_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == HeaderValue::from_static(PROBLEM_JSON));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let response = Problem::new(status, status.canonical_reason().unwrap_or("error")).response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

async fn render_metrics(registry: web::Data<Registry>) -> HttpResponse {
    let mut body = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut body) {
        Ok(()) => HttpResponse::Ok()
            .content_type(TextEncoder::new().format_type())
            .body(body),
        Err(e) => Problem::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode metrics: {e}"),
        )
        .response(),
    }
}
