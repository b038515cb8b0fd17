//! Logs (JSON or pretty, every line with `trace_id`/`span_id`) and OpenTelemetry traces.
//!
//! Trace ids exist even without an exporter, so logs correlate within a request everywhere;
//! spans leave the process only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Export runs on the
//! batch processor's own thread with a bounded queue: a slow or dead collector drops spans, it
//! never delays a request.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::build_info::BUILD;
use crate::configuration::{LogFormat, TelemetrySettings};

/// Keeps the tracer provider alive; `shutdown` flushes what is queued.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global subscriber is already installed")]
    AlreadyInstalled,
}

impl Telemetry {
    /// Flushes queued spans, waiting at most `timeout` (a dead collector must not hold up exit).
    pub fn shutdown(self, timeout: Duration) {
        if let Err(e) = self.provider.shutdown_with_timeout(timeout) {
            tracing::warn!(error = %e, "trace flush incomplete");
        }
    }
}

/// Installs the global subscriber. Call outside any async runtime: the OTLP exporter's blocking
/// HTTP client must not be created or dropped inside one.
pub fn init(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new("service.version", BUILD.version))
        .build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/traces"))
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(settings.max_queue_size)
            .build();
        provider = provider.with_span_processor(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batch)
                .build(),
        );
    }
    let provider = provider.build();
    let tracer = provider.tracer("greeter");

    // Only the request spans and the service's own spans become traces: never the exporter's
    // HTTP client, whose spans would feed back into the exporter.
    let traced = Targets::new()
        .with_target("tracing_actix_web", Level::INFO)
        .with_target("greeter", Level::INFO);
    // Per-poll work off (docs/benchmarks.md: 11 % of the instructions of a POST /visits): no
    // OpenTelemetry context is attached on every span entry (nothing reads the active context;
    // parents come from the span tree and logs read each span's own context), and no busy/idle
    // clock readings on every entry and exit.
    // No code.* or thread.* attributes either: the file and line of a span's macro call and the
    // actix worker's thread name say nothing about a request, and cost four attributes (one an
    // owned thread name) on every span.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_context_activation(false)
        .with_tracked_inactivity(false)
        .with_location(false)
        .with_threads(false)
        .with_filter(traced);
    let logs = LogLayer::new(settings.log_format).with_filter(settings.log_filter.clone());
    tracing_subscriber::registry()
        .with(otel)
        .with(logs)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(Telemetry { provider })
}

/// Writes one line per event to stdout, with the trace and span ids of the current span.
struct LogLayer {
    format: LogFormat,
    dispatch: OnceLock<tracing::dispatcher::WeakDispatch>,
}

impl LogLayer {
    fn new(format: LogFormat) -> Self {
        Self {
            format,
            dispatch: OnceLock::new(),
        }
    }
}

impl<S> Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let span = ctx.event_span(event);
        let ids = span.as_ref().and_then(|span| {
            let dispatch = self.dispatch.get()?.upgrade()?;
            let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
            let span_context = cx.span().span_context().clone();
            span_context.is_valid().then(|| {
                (
                    span_context.trace_id().to_string(),
                    span_context.span_id().to_string(),
                )
            })
        });
        let meta = event.metadata();
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut line = match self.format {
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert("timestamp".into(), timestamp.into());
                object.insert("level".into(), meta.level().as_str().into());
                object.insert("target".into(), meta.target().into());
                object.insert("message".into(), fields.message.into());
                if let Some(span) = &span {
                    object.insert("span".into(), span.name().into());
                }
                if let Some((trace_id, span_id)) = ids {
                    object.insert("trace_id".into(), trace_id.into());
                    object.insert("span_id".into(), span_id.into());
                }
                object.extend(fields.fields);
                Value::Object(object).to_string()
            }
            LogFormat::Pretty => {
                let mut text = format!(
                    "{timestamp} {:>5} {}: {}",
                    meta.level(),
                    meta.target(),
                    fields.message
                );
                for (key, value) in &fields.fields {
                    let _ = write!(text, " {key}={value}");
                }
                if let Some((trace_id, span_id)) = ids {
                    let _ = write!(text, " trace_id={trace_id} span_id={span_id}");
                }
                text
            }
        };
        line.push('\n');
        // One write per line keeps lines whole when workers log at once.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

#[derive(Default)]
struct FieldMap {
    message: String,
    fields: Map<String, Value>,
}

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields.insert(field.name().into(), value.into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.insert(field.name().into(), text.into());
        }
    }
}

/// Request spans: INFO (traced) for API requests, DEBUG for kubelet probes so that the probe
/// traffic of every pod never fills the trace backend. They record what traces and logs use
/// (OpenTelemetry HTTP server conventions), not tracing-actix-web's default set: formatting the
/// host, scheme, client address, user agent, HTTP version and request id into every span cost
/// a fifth of the instructions of a `POST /visits`, a third of a `GET /` (docs/benchmarks.md).
pub struct RequestSpans;

/// One span per request; a macro because `tracing` wants the level known at each call site.
macro_rules! request_span {
    ($level:expr, $method:expr, $route:expr, $path:expr) => {
        tracing::span!(
            $level,
            "HTTP request",
            otel.name = %SpanName { method: $method, route: $route },
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.request.method = $method,
            http.route = $route,
            url.path = $path,
            http.response.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
        )
    };
}

impl tracing_actix_web::RootSpanBuilder for RequestSpans {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let method = request.method().as_str();
        let span = match request.path() {
            path @ ("/healthz" | "/readyz") => {
                request_span!(Level::DEBUG, method, Some(path), path)
            }
            path => {
                let route = request.match_pattern();
                request_span!(Level::INFO, method, route.as_deref(), path)
            }
        };
        if let Some(parent) = caller_context(request.headers()) {
            // Fails only for a disabled span (a probe at the default level): nothing to continue.
            let _ = span.set_parent(parent);
        }
        span
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        span.record("http.response.status_code", i64::from(status.as_u16()));
        // Client errors leave the span's status unset: the server did its job.
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        if let Some(error) = error {
            span.record("exception.message", tracing::field::display(error));
        }
        // The access log: off at the default level, one line a request at debug.
        tracing::debug!(parent: &span, status = status.as_u16(), "request completed");
    }
}

/// `"<METHOD> <route>"`, or the method alone when no route matched (OpenTelemetry's span name
/// for HTTP servers: a route pattern, never a raw path, keeps the name's cardinality low).
struct SpanName<'a> {
    method: &'a str,
    route: Option<&'a str>,
}

impl std::fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.route {
            Some(route) => write!(f, "{} {route}", self.method),
            None => f.write_str(self.method),
        }
    }
}

/// The caller's trace context from a W3C `traceparent` header, for the request span to continue.
/// The only propagator installed (`init`) is W3C trace context, which reads nothing without
/// `traceparent`: requests without one skip the propagator.
fn caller_context(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    if !headers.contains_key("traceparent") {
        return None;
    }
    Some(opentelemetry::global::get_text_map_propagator(
        |propagator| propagator.extract(&HeaderExtractor(headers)),
    ))
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
