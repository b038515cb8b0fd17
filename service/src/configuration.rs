//! Layered settings: compiled defaults < `default.toml` < `<APP_ENV>.toml` < environment.
//!
//! Every value is read as text and parsed here, so an invalid value is reported with the name of
//! the environment variable that sets it (the interface the manifests use), never a serde path.
//!
//! With `SECRETS_DIR` set, the secrets come from the files there instead (one file per variable,
//! as a mounted Kubernetes Secret lays them out) and `secrets::watch` re-reads them while running.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::FixedOffset;
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
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
    pub secrets: SecretSettings,
    /// `Some` when the secrets come from files (`SECRETS_DIR`), which are re-read while running.
    pub secret_files: Option<SecretFiles>,
    /// `None`: the in-memory visit store.
    pub redis: Option<RedisSettings>,
    pub redis_key: String,
    pub server: ServerSettings,
    pub telemetry: TelemetrySettings,
    pub faults: FaultSettings,
}

/// What the secrets configure: all of it is rebuilt when the secret files change.
#[derive(Debug, Clone)]
pub struct SecretSettings {
    pub auth: AuthSettings,
    /// For new Redis connections.
    pub redis_password: Option<SecretString>,
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

/// Failures injected on purpose, for game days (docs/configuration.md, "Fault injection"). Off
/// by default; the policy tests keep them out of every overlay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultSettings {
    /// The share of requests to the app routes (never the probes) answered 500.
    pub error_ratio: f64,
    /// How much later every visit store call answers, inside the Redis command timeout.
    pub visit_store_delay: Duration,
}

impl FaultSettings {
    pub fn any(&self) -> bool {
        self.error_ratio > 0.0 || !self.visit_store_delay.is_zero()
    }
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

/// The settings that are secrets: from `SECRETS_DIR` when it is set, else like any other setting.
pub const SECRET_VARIABLES: [&str; 4] = [
    "SECRET_MESSAGE",
    "DUMMY_API_KEY",
    "JWT_SECRET",
    "REDIS_PASSWORD",
];

/// Every setting, by its environment variable. TOML keys are these names in lower case.
pub const VARIABLES: &[&str] = &[
    "GREETING",
    "TIMEZONE_OFFSET",
    "SECRET_MESSAGE",
    "DUMMY_API_KEY",
    "JWT_SECRET",
    "SECRETS_DIR",
    "SECRETS_POLL_INTERVAL_MS",
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
    "FAULT_ERROR_RATIO",
    "FAULT_VISIT_STORE_DELAY_MS",
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
    let values = Values(raw);
    match SecretFiles::of(&values)? {
        None => Settings::parse(&values, None),
        Some(mut files) => {
            let read = files.read()?;
            files.loaded = read.fingerprint();
            Settings::parse(&files.with_values(&read), Some(files))
        }
    }
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
#[derive(Clone)]
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

    /// A share, 0 to 1 inclusive, as a decimal number (`0.25`); unset is 0.
    fn ratio(&self, variable: &str) -> Result<f64, ConfigError> {
        let Some(text) = self.get(variable) else {
            return Ok(0.0);
        };
        match text.trim().parse::<f64>() {
            Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
            _ => Err(ConfigError::new(
                variable,
                format!("{text:?} is not a number from 0 to 1"),
            )),
        }
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

/// The secret files: `<SECRETS_DIR>/<VARIABLE>`, one per secret, which is how the kubelet lays
/// out a mounted Secret (each key a symlink into `..data`, swapped atomically on an update).
#[derive(Clone)]
pub struct SecretFiles {
    pub dir: PathBuf,
    pub poll_interval: Duration,
    /// The files read at startup, to tell a change from what is in use.
    pub loaded: Fingerprint,
    /// Every other setting: the secrets are validated together with them (JWT, Redis).
    others: Values,
}

/// Secret values read from the files, by variable.
pub struct SecretValues(BTreeMap<&'static str, SecretString>);

/// A digest per secret file: tells what changed without keeping or showing a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(BTreeMap<&'static str, [u8; 32]>);

impl SecretFiles {
    /// `Some` when `SECRETS_DIR` is set. The secrets must then come from it alone: a value set
    /// elsewhere too would be silently shadowed (or never rotate), so it is refused.
    fn of(v: &Values) -> Result<Option<Self>, ConfigError> {
        let Some(dir) = v.get("SECRETS_DIR") else {
            return Ok(None);
        };
        if let Some(variable) = SECRET_VARIABLES.iter().find(|s| v.get(s).is_some()) {
            return Err(ConfigError::new(
                variable,
                "set in the environment or a config file while SECRETS_DIR is set; secrets come from the files in SECRETS_DIR alone",
            ));
        }
        Ok(Some(Self {
            dir: PathBuf::from(dir),
            poll_interval: v.millis("SECRETS_POLL_INTERVAL_MS", 2000, 3_600_000)?,
            loaded: Fingerprint::default(),
            others: v.clone(),
        }))
    }

    /// Reads every secret file. A missing file leaves its secret unset; a file that is not a
    /// secret's name is refused (a typo would otherwise leave the secret unset silently). Names
    /// starting with `.` are ignored. One trailing newline is dropped (`echo value > FILE`).
    ///
    /// In a kubelet volume the files are read through `..data`: the kubelet writes a complete new
    /// directory before it swaps that link, so they are one version, whereas the visible `<KEY>`
    /// links are only added and removed around the swap.
    pub fn read(&self) -> Result<SecretValues, ConfigError> {
        let kubelet_data = self.dir.join("..data");
        let dir = if kubelet_data.is_dir() {
            kubelet_data
        } else {
            self.dir.clone()
        };
        let unreadable =
            |e: std::io::Error| ConfigError::new("SECRETS_DIR", format!("{}: {e}", dir.display()));
        let mut values = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(unreadable)? {
            let name = entry.map_err(unreadable)?.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let Some(variable) = SECRET_VARIABLES.iter().find(|s| **s == name) else {
                return Err(ConfigError::new(
                    "SECRETS_DIR",
                    format!(
                        "{}: unexpected file {name:?}; the files there are named {}",
                        dir.display(),
                        SECRET_VARIABLES.join(", ")
                    ),
                ));
            };
            let path = dir.join(variable);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::new(variable, format!("{}: {e}", path.display())))?;
            let text = text
                .strip_suffix('\n')
                .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
            values.insert(*variable, SecretString::from(text.to_string()));
        }
        Ok(SecretValues(values))
    }

    /// Validates secret values exactly as at startup.
    pub fn parse(&self, values: &SecretValues) -> Result<SecretSettings, ConfigError> {
        parse_secrets(&self.with_values(values))
    }

    fn with_values(&self, values: &SecretValues) -> Values {
        let mut merged = self.others.clone();
        merged.0.extend(
            values
                .0
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.expose_secret().to_string())),
        );
        merged
    }
}

impl SecretValues {
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(
            self.0
                .iter()
                .map(|(k, v)| (*k, Sha256::digest(v.expose_secret().as_bytes()).into()))
                .collect(),
        )
    }
}

impl Fingerprint {
    /// The variables whose files differ (added, removed or changed).
    pub fn changed(&self, other: &Fingerprint) -> Vec<&'static str> {
        SECRET_VARIABLES
            .into_iter()
            .filter(|v| self.0.get(v) != other.0.get(v))
            .collect()
    }
}

impl std::fmt::Debug for SecretFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretFiles")
            .field("dir", &self.dir)
            .field("poll_interval", &self.poll_interval)
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Fingerprint {
    // A digest of a short secret can be brute-forced: show which files there are, nothing else.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Settings {
    fn parse(v: &Values, secret_files: Option<SecretFiles>) -> Result<Self, ConfigError> {
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
            secrets: parse_secrets(v)?,
            secret_files,
            redis: parse_redis(v)?,
            redis_key: v.string("REDIS_KEY", "greeter:visits"),
            server,
            telemetry: parse_telemetry(v)?,
            faults: FaultSettings {
                error_ratio: v.ratio("FAULT_ERROR_RATIO")?,
                visit_store_delay: v
                    .number("FAULT_VISIT_STORE_DELAY_MS", 0, 0, 60_000)
                    .map(Duration::from_millis)?,
            },
        })
    }
}

fn parse_secrets(v: &Values) -> Result<SecretSettings, ConfigError> {
    Ok(SecretSettings {
        auth: parse_auth(v)?,
        redis_password: v.secret("REDIS_PASSWORD"),
    })
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
        assert!(!s.faults.any(), "no fault unless asked for");
    }

    #[test]
    fn faults_when_asked_for() {
        let s = load_from(&env(&[
            ("FAULT_ERROR_RATIO", "0.25"),
            ("FAULT_VISIT_STORE_DELAY_MS", "300"),
        ]))
        .unwrap();
        assert_eq!(
            s.faults,
            FaultSettings {
                error_ratio: 0.25,
                visit_store_delay: Duration::from_millis(300),
            }
        );
        for (variable, value) in [
            ("FAULT_ERROR_RATIO", "1"),
            ("FAULT_VISIT_STORE_DELAY_MS", "1"),
        ] {
            assert!(
                load_from(&env(&[(variable, value)])).unwrap().faults.any(),
                "{variable}"
            );
        }
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
            (vec![("FAULT_ERROR_RATIO", "1.5")], "FAULT_ERROR_RATIO"),
            (vec![("FAULT_ERROR_RATIO", "-0.1")], "FAULT_ERROR_RATIO"),
            (vec![("FAULT_ERROR_RATIO", "NaN")], "FAULT_ERROR_RATIO"),
            (vec![("FAULT_ERROR_RATIO", "half")], "FAULT_ERROR_RATIO"),
            (
                vec![("FAULT_VISIT_STORE_DELAY_MS", "-5")],
                "FAULT_VISIT_STORE_DELAY_MS",
            ),
            (
                vec![("FAULT_VISIT_STORE_DELAY_MS", "60001")],
                "FAULT_VISIT_STORE_DELAY_MS",
            ),
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

    /// A plain directory of secret files (what `echo value > FILE` leaves).
    fn secrets_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("greeter-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, content) in files {
            std::fs::write(dir.join(file), content).unwrap();
        }
        dir
    }

    #[test]
    fn secrets_from_files() {
        let dir = secrets_dir(
            "secret-files",
            &[
                ("SECRET_MESSAGE", "message-7f3a\n"),
                ("DUMMY_API_KEY", "apikey-7f3a-0123456789\r\n"),
                ("REDIS_PASSWORD", "redispass-7f3a"),
                // The kubelet's own entries are not secrets.
                ("..data", ""),
            ],
        );
        let s = load_from(&env(&[
            ("SECRETS_DIR", dir.to_str().unwrap()),
            ("REDIS_HOST", "localhost"),
        ]))
        .unwrap();
        let secret = |s: &Option<SecretString>| s.as_ref().map(|s| s.expose_secret().to_string());
        assert_eq!(
            secret(&s.secrets.auth.secret_message).unwrap(),
            "message-7f3a"
        );
        assert_eq!(
            secret(&s.secrets.auth.api_key).unwrap(),
            "apikey-7f3a-0123456789"
        );
        assert_eq!(secret(&s.secrets.redis_password).unwrap(), "redispass-7f3a");
        assert!(
            s.secrets.auth.jwt.is_none(),
            "a missing file leaves its secret unset"
        );
        let files = s.secret_files.as_ref().expect("secrets come from files");
        assert_eq!(files.poll_interval, Duration::from_secs(2));
        assert_eq!(files.loaded, files.read().unwrap().fingerprint());
        let debug = format!("{s:?}");
        for secret in ["message-7f3a", "apikey-7f3a", "redispass-7f3a"] {
            assert!(!debug.contains(secret), "{secret} leaked into {debug}");
        }

        std::fs::write(dir.join("DUMMY_API_KEY"), "apikey-7f3a-rotated-0123").unwrap();
        std::fs::remove_file(dir.join("REDIS_PASSWORD")).unwrap();
        let rotated = files.read().unwrap();
        assert_eq!(
            files.loaded.changed(&rotated.fingerprint()),
            ["DUMMY_API_KEY", "REDIS_PASSWORD"]
        );
        assert!(files.parse(&rotated).unwrap().redis_password.is_none());
        std::fs::write(dir.join("DUMMY_API_KEY"), "short").unwrap();
        let error = files.parse(&files.read().unwrap()).unwrap_err();
        assert_eq!(error.variable, "DUMMY_API_KEY");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Between the kubelet's `..data` swap and its update of the visible links, the links show
    /// neither version whole; `..data` does.
    #[test]
    fn kubelet_volumes_are_read_through_data() {
        let dir = secrets_dir("secret-files-kubelet", &[]);
        std::fs::create_dir(dir.join("..2026_11_29_12_00_00.1")).unwrap();
        std::fs::write(dir.join("..2026_11_29_12_00_00.1/REDIS_PASSWORD"), "new").unwrap();
        std::os::unix::fs::symlink("..2026_11_29_12_00_00.1", dir.join("..data")).unwrap();
        // A link the kubelet has not removed yet, to a key the new version no longer has.
        std::os::unix::fs::symlink("..data/JWT_SECRET", dir.join("JWT_SECRET")).unwrap();
        let s = load_from(&env(&[("SECRETS_DIR", dir.to_str().unwrap())])).unwrap();
        let password = s.secrets.redis_password.expect("read through ..data");
        assert_eq!(password.expose_secret(), "new");
        assert!(s.secrets.auth.jwt.is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn without_secrets_dir_secrets_are_settings_like_any_other() {
        let s = load_from(&env(&[
            ("SECRET_MESSAGE", "m"),
            ("DUMMY_API_KEY", "0123456789abcdef"),
        ]))
        .unwrap();
        assert!(s.secret_files.is_none());
        assert!(s.secrets.auth.api_key.is_some());
    }

    #[test]
    fn secret_files_errors_name_the_variable() {
        let dir = secrets_dir("secret-files-errors", &[]);
        let dir = dir.to_str().unwrap();
        for (pairs, variable) in [
            (vec![("SECRETS_DIR", "/nonexistent/greeter")], "SECRETS_DIR"),
            (
                vec![("SECRETS_DIR", dir), ("SECRETS_POLL_INTERVAL_MS", "0")],
                "SECRETS_POLL_INTERVAL_MS",
            ),
            (
                vec![("SECRETS_DIR", dir), ("JWT_SECRET", "x")],
                "JWT_SECRET",
            ),
        ] {
            assert_eq!(error_of(&pairs).variable, variable, "{pairs:?}");
        }
    }
}
