//! Layered settings: compiled defaults < `default.toml` < `<APP_ENV>.toml` < environment.
//!
//! Every value is read as text and parsed here, so an invalid value is reported with the name of
//! the environment variable that sets it (the interface the manifests use), never a serde path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::FixedOffset;
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing_subscriber::filter::{LevelFilter, Targets};

/// A setting that cannot be used, named by its environment variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &str, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.to_string(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub greeting: String,
    pub timezone: FixedOffset,
    pub auth: AuthSettings,
    /// `None`: the in-memory visit store.
    pub redis: Option<RedisSettings>,
    pub redis_key: String,
    pub server: ServerSettings,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub secret_message: Option<SecretString>,
    pub api_key: Option<SecretString>,
    pub jwt: Option<JwtSettings>,
}

#[derive(Clone)]
pub struct JwtSettings {
    /// The algorithm is pinned by the kind of key: HS256 for a shared secret, RS256/ES256 for PEM.
    pub algorithm: Algorithm,
    pub key: DecodingKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
}

impl std::fmt::Debug for JwtSettings {
    // DecodingKey's Debug would print the HS256 secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub tls: bool,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub host: IpAddr,
    pub port: u16,
    pub metrics_port: u16,
    pub workers: usize,
    pub body_limit_bytes: usize,
    pub client_request_timeout: Duration,
    pub shutdown_delay: Duration,
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// `RUST_LOG` as `target=level` directives (a `Targets` filter: no per-span-entry cost).
    pub log_filter: Targets,
    /// `None`: no trace export (trace ids are still generated for log correlation).
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
    pub max_queue_size: usize,
}

/// Every setting, by its environment variable. TOML keys are these names in lower case.
pub const VARIABLES: &[&str] = &[
    "GREETING",
    "TIMEZONE_OFFSET",
    "SECRET_MESSAGE",
    "DUMMY_API_KEY",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY_SECONDS",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_TLS",
    "REDIS_POOL_SIZE",
    "REDIS_CONNECT_TIMEOUT_MS",
    "REDIS_COMMAND_TIMEOUT_MS",
    "REDIS_KEY",
    "HOST",
    "PORT",
    "METRICS_PORT",
    "WORKERS",
    "LOG_FORMAT",
    "RUST_LOG",
    "REQUEST_BODY_LIMIT_BYTES",
    "CLIENT_REQUEST_TIMEOUT_MS",
    "SHUTDOWN_DELAY_SECONDS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_BSP_MAX_QUEUE_SIZE",
];

/// The merged layers, still as text.
#[derive(Deserialize)]
struct Raw(HashMap<String, String>);

/// Loads settings from the process environment and the config directory.
pub fn load() -> Result<Settings, ConfigError> {
    load_from(&std::env::vars().collect())
}

/// Loads settings from the given environment (tests pass their own).
pub fn load_from(env: &HashMap<String, String>) -> Result<Settings, ConfigError> {
    let dir = config_dir(env)?;
    let mut builder = config::Config::builder();
    if let Some(dir) = &dir {
        builder = builder.add_source(toml_file(&dir.join("default.toml"), true)?);
        if let Some(app_env) = env.get("APP_ENV").filter(|v| !v.is_empty()) {
            if !app_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ConfigError::new(
                    "APP_ENV",
                    format!("{app_env:?} may only contain letters, digits, '-' and '_'"),
                ));
            }
            builder = builder.add_source(toml_file(&dir.join(format!("{app_env}.toml")), false)?);
        }
    }
    let known: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| VARIABLES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(config::Environment::default().source(Some(known)));
    let merged = builder
        .build()
        .map_err(|e| ConfigError::new("CONFIG_DIR", e.to_string()))?;
    let Raw(raw) = merged
        .try_deserialize()
        .map_err(|e| ConfigError::new("CONFIG_DIR", e.to_string()))?;
    if let Some(unknown) = raw
        .keys()
        .find(|k| !VARIABLES.contains(&k.to_uppercase().as_str()))
    {
        return Err(ConfigError::new(
            "CONFIG_DIR",
            format!("unknown setting {unknown:?} in a config file"),
        ));
    }
    Settings::parse(&Values(raw))
}

/// `CONFIG_DIR` when set (it must exist), else `./config` or `./service/config`.
fn config_dir(env: &HashMap<String, String>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(dir) = env.get("CONFIG_DIR").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() {
            Ok(Some(dir))
        } else {
            Err(ConfigError::new(
                "CONFIG_DIR",
                format!("{} is not a directory", dir.display()),
            ))
        };
    }
    Ok(["config", "service/config"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("default.toml").is_file()))
}

fn toml_file(
    path: &Path,
    required: bool,
) -> Result<config::File<config::FileSourceFile, config::FileFormat>, ConfigError> {
    let name = path
        .to_str()
        .ok_or_else(|| ConfigError::new("CONFIG_DIR", "path is not UTF-8"))?;
    Ok(config::File::new(name, config::FileFormat::Toml).required(required))
}

/// Merged values keyed by lower-case variable name; empty strings count as unset.
struct Values(HashMap<String, String>);

impl Values {
    fn get(&self, variable: &str) -> Option<&str> {
        self.0
            .get(&variable.to_lowercase())
            .map(|v| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    fn string(&self, variable: &str, default: &str) -> String {
        self.get(variable).unwrap_or(default).to_string()
    }

    fn secret(&self, variable: &str) -> Option<SecretString> {
        self.get(variable)
            .map(|v| SecretString::from(v.to_string()))
    }

    fn number<T>(&self, variable: &str, default: T, min: T, max: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(text) = self.get(variable) else {
            return Ok(default);
        };
        let value: T = text
            .trim()
            .parse()
            .map_err(|_| ConfigError::new(variable, format!("{text:?} is not a whole number")))?;
        if value < min || value > max {
            return Err(ConfigError::new(
                variable,
                format!("{value} is outside {min}..={max}"),
            ));
        }
        Ok(value)
    }

    fn millis(&self, variable: &str, default: u64, max: u64) -> Result<Duration, ConfigError> {
        self.number(variable, default, 1, max)
            .map(Duration::from_millis)
    }

    fn seconds(&self, variable: &str, default: u64, max: u64) -> Result<Duration, ConfigError> {
        self.number(variable, default, 0, max)
            .map(Duration::from_secs)
    }

    fn boolean(&self, variable: &str) -> Result<bool, ConfigError> {
        match self.get(variable).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(false),
            Some(v) => Err(ConfigError::new(
                variable,
                format!("{v:?} is not a boolean (true/false)"),
            )),
        }
    }
}

impl Settings {
    fn parse(v: &Values) -> Result<Self, ConfigError> {
        let server = ServerSettings {
            host: v
                .string("HOST", "0.0.0.0")
                .parse()
                .map_err(|_| ConfigError::new("HOST", "not an IP address"))?,
            port: v.number("PORT", 8080, 0, u16::MAX)?,
            metrics_port: v.number("METRICS_PORT", 9464, 0, u16::MAX)?,
            workers: v.number(
                "WORKERS",
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                1,
                256,
            )?,
            body_limit_bytes: v.number("REQUEST_BODY_LIMIT_BYTES", 16 * 1024, 0, 64 << 20)?,
            client_request_timeout: v.millis("CLIENT_REQUEST_TIMEOUT_MS", 5000, 300_000)?,
            shutdown_delay: v.seconds("SHUTDOWN_DELAY_SECONDS", 5, 600)?,
            shutdown_timeout: v.seconds("SHUTDOWN_TIMEOUT_SECONDS", 10, 600)?,
        };
        if server.port != 0 && server.port == server.metrics_port {
            return Err(ConfigError::new(
                "METRICS_PORT",
                format!("must differ from PORT ({})", server.port),
            ));
        }
        Ok(Self {
            greeting: v.string("GREETING", "Hello from greeter"),
            timezone: parse_offset(v.get("TIMEZONE_OFFSET").unwrap_or("+00:00"))
                .map_err(|reason| ConfigError::new("TIMEZONE_OFFSET", reason))?,
            auth: parse_auth(v)?,
            redis: parse_redis(v)?,
            redis_key: v.string("REDIS_KEY", "greeter:visits"),
            server,
            telemetry: parse_telemetry(v)?,
        })
    }
}

fn parse_auth(v: &Values) -> Result<AuthSettings, ConfigError> {
    let api_key = v.secret("DUMMY_API_KEY");
    if let Some(key) = &api_key {
        if key.expose_secret().chars().count() < 16 {
            return Err(ConfigError::new(
                "DUMMY_API_KEY",
                "must be at least 16 characters",
            ));
        }
    }
    let leeway = v.seconds("JWT_LEEWAY_SECONDS", 30, 300)?;
    let issuer = v.get("JWT_ISSUER").map(str::to_string);
    let audience = v.get("JWT_AUDIENCE").map(str::to_string);
    let jwt = match (v.secret("JWT_SECRET"), v.get("JWT_PUBLIC_KEY")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "JWT_PUBLIC_KEY",
                "set either JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256), not both",
            ))
        }
        (Some(secret), None) => {
            if secret.expose_secret().len() < 32 {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "must be at least 32 bytes (HS256 key strength)",
                ));
            }
            Some((
                Algorithm::HS256,
                DecodingKey::from_secret(secret.expose_secret().as_bytes()),
            ))
        }
        (None, Some(pem)) => Some(parse_public_key(pem)?),
        (None, None) => None,
    };
    let jwt = jwt.map(|(algorithm, key)| JwtSettings {
        algorithm,
        key,
        issuer,
        audience,
        leeway,
    });
    let secret_message = v.secret("SECRET_MESSAGE");
    if secret_message.is_none() && (api_key.is_some() || jwt.is_some()) {
        return Err(ConfigError::new(
            "SECRET_MESSAGE",
            "required when DUMMY_API_KEY, JWT_SECRET or JWT_PUBLIC_KEY is set",
        ));
    }
    Ok(AuthSettings {
        secret_message,
        api_key,
        jwt,
    })
}

/// RSA keys verify RS256, EC (P-256) keys ES256. Literal `\n` (as often stored in env) is accepted.
fn parse_public_key(pem: &str) -> Result<(Algorithm, DecodingKey), ConfigError> {
    let pem = pem.replace("\\n", "\n");
    if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((Algorithm::RS256, key));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) {
        return Ok((Algorithm::ES256, key));
    }
    Err(ConfigError::new(
        "JWT_PUBLIC_KEY",
        "not a PEM-encoded RSA or EC (P-256) public key",
    ))
}

fn parse_redis(v: &Values) -> Result<Option<RedisSettings>, ConfigError> {
    let Some(host) = v.get("REDIS_HOST") else {
        return Ok(None);
    };
    Ok(Some(RedisSettings {
        host: host.trim().to_string(),
        port: v.number("REDIS_PORT", 6379, 1, u16::MAX)?,
        username: v.get("REDIS_USERNAME").map(str::to_string),
        password: v.secret("REDIS_PASSWORD"),
        tls: v.boolean("REDIS_TLS")?,
        pool_size: v.number("REDIS_POOL_SIZE", 16, 1, 1024)?,
        connect_timeout: v.millis("REDIS_CONNECT_TIMEOUT_MS", 1000, 60_000)?,
        command_timeout: v.millis("REDIS_COMMAND_TIMEOUT_MS", 250, 60_000)?,
    }))
}

/// `RUST_LOG`: comma-separated `level` and `target=level` directives, e.g. `info,greeter=debug`.
/// Parsed into a `Targets` filter rather than an `EnvFilter`: EnvFilter takes a lock on every
/// span entry and exit of every request (docs/benchmarks.md), for span and field filters
/// (`target[span{field}]=level`) the service does not need. Those, bare targets (a typo like
/// `inof` would silently log nothing) and empty directives are refused.
fn parse_log_filter(value: &str) -> Result<Targets, String> {
    let mut targets = Targets::new();
    for directive in value.split(',').map(str::trim) {
        let level = |level: &str| {
            level.parse::<LevelFilter>().map_err(|_| {
                format!("{directive:?} in {value:?}: {level:?} is not one of off, error, warn, info, debug, trace")
            })
        };
        targets = match directive.split_once('=') {
            _ if directive.is_empty() => return Err(format!("{value:?}: an empty directive")),
            Some((target, _)) if target.is_empty() || target.contains(['[', ']', '{', '}', '=']) => {
                return Err(format!(
                    "{directive:?} in {value:?}: expected `target=level` (span and field filters are not supported)"
                ))
            }
            Some((target, filter)) => targets.with_target(target, level(filter)?),
            None => targets.with_default(level(directive)?),
        };
    }
    Ok(targets)
}

fn parse_telemetry(v: &Values) -> Result<TelemetrySettings, ConfigError> {
    let log_format = match v.string("LOG_FORMAT", "json").to_ascii_lowercase().as_str() {
        "json" => LogFormat::Json,
        "pretty" => LogFormat::Pretty,
        other => {
            return Err(ConfigError::new(
                "LOG_FORMAT",
                format!("{other:?} is not one of json, pretty"),
            ))
        }
    };
    let log_filter = parse_log_filter(&v.string("RUST_LOG", "info"))
        .map_err(|e| ConfigError::new("RUST_LOG", e))?;
    let otlp_endpoint = match v.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        None => None,
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.trim_end_matches('/').to_string())
        }
        Some(url) => {
            return Err(ConfigError::new(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("{url:?} is not an http(s) URL"),
            ))
        }
    };
    if let Some(attrs) = v.get("OTEL_RESOURCE_ATTRIBUTES") {
        if let Some(bad) = attrs
            .split(',')
            .find(|pair| !matches!(pair.split_once('='), Some((k, _)) if !k.trim().is_empty()))
        {
            return Err(ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("{bad:?} is not key=value"),
            ));
        }
    }
    Ok(TelemetrySettings {
        log_format,
        log_filter,
        otlp_endpoint,
        service_name: v.string("OTEL_SERVICE_NAME", "greeter"),
        max_queue_size: v.number("OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, 1 << 20)?,
    })
}

/// Parses `+05:30`, `-3`, `5.5` (hours) into an offset of at most ±14 hours, whole minutes.
pub fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    let trimmed = text.trim();
    let (sign, rest) = match trimmed.as_bytes().first() {
        Some(b'+') => (1, &trimmed[1..]),
        Some(b'-') => (-1, &trimmed[1..]),
        _ => (1, trimmed),
    };
    let invalid = || format!("{text:?} is not an offset like +05:30, -3 or 5.5");
    let minutes: i64 = if let Some((h, m)) = rest.split_once(':') {
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || m.len() != 2 || !digits(m) {
            return Err(invalid());
        }
        let (h, m): (i64, i64) = (
            h.parse().map_err(|_| invalid())?,
            m.parse().map_err(|_| invalid())?,
        );
        if m >= 60 {
            return Err(invalid());
        }
        h * 60 + m
    } else {
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(invalid());
        }
        let hours: f64 = rest.parse().map_err(|_| invalid())?;
        let minutes = hours * 60.0;
        if minutes.fract() != 0.0 {
            return Err(format!("{text:?} is not a whole number of minutes"));
        }
        if minutes > 14.0 * 60.0 {
            return Err(format!("{text:?} is beyond ±14 hours"));
        }
        minutes as i64
    };
    if minutes > 14 * 60 {
        return Err(format!("{text:?} is beyond ±14 hours"));
    }
    FixedOffset::east_opt((sign * minutes * 60) as i32).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // An empty dir: no TOML layers, so each test sees compiled defaults + its own env.
        let dir = std::env::temp_dir().join("greeter-config-unit-empty");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("default.toml"), "").unwrap();
        map.entry("CONFIG_DIR".into())
            .or_insert_with(|| dir.to_str().unwrap().into());
        map
    }

    fn error_of(pairs: &[(&str, &str)]) -> ConfigError {
        load_from(&env(pairs)).expect_err("configuration should be rejected")
    }

    #[test]
    fn log_filter_levels_and_targets() {
        use tracing::Level;
        let filter = load_from(&env(&[(
            "RUST_LOG",
            " warn , greeter=debug,actix_server=off ",
        )]))
        .unwrap()
        .telemetry
        .log_filter;
        assert!(filter.would_enable("greeter::visit_store", &Level::DEBUG));
        assert!(!filter.would_enable("greeter", &Level::TRACE));
        assert!(filter.would_enable("deadpool", &Level::WARN));
        assert!(!filter.would_enable("deadpool", &Level::INFO));
        assert!(!filter.would_enable("actix_server::worker", &Level::ERROR));
        let message = error_of(&[("RUST_LOG", "inof")]).to_string();
        assert!(message.contains("is not one of off, error"), "{message}");
    }

    #[test]
    fn offsets_in_every_accepted_form() {
        for (text, seconds) in [
            ("+05:30", 19800),
            ("-03:00", -10800),
            ("-3", -10800),
            ("5.5", 19800),
            ("+14", 50400),
            ("-14:00", -50400),
            ("0", 0),
            ("+00:00", 0),
        ] {
            assert_eq!(
                parse_offset(text).unwrap().local_minus_utc(),
                seconds,
                "{text}"
            );
        }
    }

    #[test]
    fn offsets_rejected() {
        for text in [
            "+15:00", "14.5", "-14:01", "abc", "+5:60", "5.123", "", "+", "1e1", "+05:3",
        ] {
            assert!(parse_offset(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn defaults_without_any_setting() {
        let s = load_from(&env(&[])).unwrap();
        assert_eq!(s.greeting, "Hello from greeter");
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.server.metrics_port, 9464);
        assert!(s.redis.is_none());
        assert_eq!(s.telemetry.log_format, LogFormat::Json);
        assert_eq!(s.server.shutdown_delay, Duration::from_secs(5));
        assert_eq!(s.server.shutdown_timeout, Duration::from_secs(10));
    }

    #[test]
    fn errors_name_the_variable() {
        for (pairs, variable) in [
            (vec![("TIMEZONE_OFFSET", "+15:00")], "TIMEZONE_OFFSET"),
            (vec![("PORT", "http")], "PORT"),
            (vec![("PORT", "70000")], "PORT"),
            (vec![("METRICS_PORT", "8080")], "METRICS_PORT"),
            (vec![("REDIS_HOST", "r"), ("REDIS_PORT", "x")], "REDIS_PORT"),
            (
                vec![("REDIS_HOST", "r"), ("REDIS_TLS", "maybe")],
                "REDIS_TLS",
            ),
            (vec![("LOG_FORMAT", "xml")], "LOG_FORMAT"),
            (vec![("RUST_LOG", "info,[")], "RUST_LOG"),
            (vec![("RUST_LOG", "info,")], "RUST_LOG"),
            (vec![("RUST_LOG", "inof")], "RUST_LOG"),
            (vec![("RUST_LOG", "greeter=verbose")], "RUST_LOG"),
            (vec![("RUST_LOG", "greeter[visit_store]=debug")], "RUST_LOG"),
            (vec![("RUST_LOG", "=debug")], "RUST_LOG"),
            (
                vec![("DUMMY_API_KEY", "short"), ("SECRET_MESSAGE", "m")],
                "DUMMY_API_KEY",
            ),
            (
                vec![("JWT_SECRET", "too-short"), ("SECRET_MESSAGE", "m")],
                "JWT_SECRET",
            ),
            (
                vec![("JWT_PUBLIC_KEY", "not a pem"), ("SECRET_MESSAGE", "m")],
                "JWT_PUBLIC_KEY",
            ),
            (
                vec![("DUMMY_API_KEY", "0123456789abcdef")],
                "SECRET_MESSAGE",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                vec![("OTEL_RESOURCE_ATTRIBUTES", "a=b,broken")],
                "OTEL_RESOURCE_ATTRIBUTES",
            ),
            (
                vec![("SHUTDOWN_DELAY_SECONDS", "-1")],
                "SHUTDOWN_DELAY_SECONDS",
            ),
            (vec![("CONFIG_DIR", "/nonexistent/greeter")], "CONFIG_DIR"),
            (vec![("APP_ENV", "../etc")], "APP_ENV"),
        ] {
            assert_eq!(error_of(&pairs).variable, variable, "{pairs:?}");
        }
    }

    #[test]
    fn both_jwt_keys_are_ambiguous() {
        let e = error_of(&[
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("JWT_PUBLIC_KEY", "x"),
            ("SECRET_MESSAGE", "m"),
        ]);
        assert_eq!(e.variable, "JWT_PUBLIC_KEY");
    }

    #[test]
    fn layers_override_in_order() {
        let dir =
            std::env::temp_dir().join(format!("greeter-config-layers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("default.toml"),
            "greeting = \"from default\"\nport = 1111\nmetrics_port = 2222\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("staging.toml"),
            "greeting = \"from staging\"\nport = 3333\n",
        )
        .unwrap();
        let dir_str = dir.to_str().unwrap();

        let s = load_from(&env(&[("CONFIG_DIR", dir_str)])).unwrap();
        assert_eq!((s.greeting.as_str(), s.server.port), ("from default", 1111));

        let s = load_from(&env(&[("CONFIG_DIR", dir_str), ("APP_ENV", "staging")])).unwrap();
        assert_eq!(
            (s.greeting.as_str(), s.server.port, s.server.metrics_port),
            ("from staging", 3333, 2222)
        );

        let s = load_from(&env(&[
            ("CONFIG_DIR", dir_str),
            ("APP_ENV", "staging"),
            ("GREETING", "from env"),
        ]))
        .unwrap();
        assert_eq!(s.greeting, "from env");

        // A missing <APP_ENV>.toml is optional.
        let s = load_from(&env(&[("CONFIG_DIR", dir_str), ("APP_ENV", "nowhere")])).unwrap();
        assert_eq!(s.greeting, "from default");

        std::fs::write(dir.join("typo.toml"), "greting = \"x\"\n").unwrap();
        let e = load_from(&env(&[("CONFIG_DIR", dir_str), ("APP_ENV", "typo")])).unwrap_err();
        assert!(e.reason.contains("greting"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn shipped_default_toml_loads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
        let s = load_from(&env(&[("CONFIG_DIR", dir)])).unwrap();
        assert!(!s.greeting.is_empty());
    }

    #[test]
    fn secrets_never_in_debug_output() {
        let s = load_from(&env(&[
            ("SECRET_MESSAGE", "message-7f3a"),
            ("DUMMY_API_KEY", "apikey-7f3a-0123456789"),
            ("JWT_SECRET", "jwtsecret-7f3a-0123456789abcdef0123"),
            ("REDIS_HOST", "localhost"),
            ("REDIS_PASSWORD", "redispass-7f3a"),
        ]))
        .unwrap();
        let debug = format!("{s:?}");
        for secret in [
            "message-7f3a",
            "apikey-7f3a",
            "jwtsecret-7f3a",
            "redispass-7f3a",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked into {debug}");
        }
    }
}
