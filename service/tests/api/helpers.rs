//! Test harness: a real redis-server on a free port (stopped by PID), the app in-process on port
//! 0, and the real binary as a child process for signal, log and trace tests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use greeter::configuration;
use greeter::startup::Application;
use tokio::sync::oneshot;

pub const API_KEY: &str = "test-api-key-0123456789";
pub const SECRET_MESSAGE: &str = "the-secret-message-7c1e";
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A real `redis-server` on a free loopback port.
pub struct RedisServer {
    pub port: u16,
    /// `requirepass`, once set: `command` authenticates with it.
    password: Option<String>,
    child: Option<Child>,
    dir: PathBuf,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("greeter-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port,
            password: None,
            child: None,
            dir,
        };
        server.restart();
        server
    }

    /// (Re)starts the server on the same port and data dir; AOF persistence keeps every
    /// acknowledged increment across a kill.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            .args(["--enable-debug-command", "yes"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): install it with `apt-get install redis-server` (scripts/setup does)")
            });
        self.child = Some(child);
        let port = self.port;
        wait_until(
            Duration::from_secs(10),
            "redis-server to answer PING",
            || redis_command(port, "PING").is_some_and(|r| r.starts_with("+PONG")),
        );
    }

    /// Kills the server (SIGKILL by PID), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("redis-server running").id()
    }

    pub fn command(&self, command: &str) -> String {
        let command = match &self.password {
            // Two commands, two replies: the AUTH's `+OK` line, then the command's.
            Some(password) => format!("AUTH {password}\r\n{command}"),
            None => command.to_string(),
        };
        let reply = redis_command(self.port, &command).expect("redis-server answers");
        match &self.password {
            Some(_) => reply
                .strip_prefix("+OK\r\n")
                .unwrap_or_else(|| panic!("AUTH refused: {reply}"))
                .to_string(),
            None => reply,
        }
    }

    /// `CONFIG SET requirepass`: connections open until now stay authenticated.
    pub fn set_password(&mut self, password: &str) {
        let reply = self.command(&format!("CONFIG SET requirepass {password}"));
        assert!(reply.starts_with("+OK"), "{reply}");
        self.password = Some(password.to_string());
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("REDIS_HOST", "127.0.0.1".into()),
            ("REDIS_PORT", self.port.to_string()),
        ]
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server would ignore SIGKILL only until resumed; resume first.
            unsafe { libc::kill(child.id() as i32, libc::SIGCONT) };
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends inline commands (one a line) over RESP and returns the raw reply lines, one or more
/// per command.
pub fn redis_command(port: u16, commands: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(format!("{commands}\r\n").as_bytes())
        .ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    while reply.split(|b| *b == b'\n').count() <= commands.lines().count() {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    (!reply.is_empty()).then(|| String::from_utf8_lossy(&reply).into_owned())
}

/// A directory laid out like a Secret volume the kubelet mounts, and updated the way it updates
/// one (kubernetes pkg/volume/util/atomic_writer.go): the files live in a timestamped directory,
/// `..data` links to it and each `<KEY>` links to `..data/<KEY>`; an update writes a new
/// timestamped directory, renames a new `..data` link over the old one, then removes the old
/// directory.
pub struct SecretVolume {
    pub dir: PathBuf,
    updates: u32,
}

impl SecretVolume {
    pub fn new(secrets: &[(&str, &str)]) -> Self {
        static VOLUMES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = VOLUMES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("greeter-secrets-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut volume = Self { dir, updates: 0 };
        volume.update(secrets);
        volume
    }

    pub fn update(&mut self, secrets: &[(&str, &str)]) {
        use std::os::unix::fs::symlink;
        let data = self.dir.join("..data");
        let old = std::fs::read_link(&data).ok();
        self.updates += 1;
        let timestamped = format!("..2026_11_29_12_00_00.{:09}", self.updates);
        std::fs::create_dir(self.dir.join(&timestamped)).unwrap();
        for (key, value) in secrets {
            std::fs::write(self.dir.join(&timestamped).join(key), value).unwrap();
        }
        let new_data = self.dir.join("..data_tmp");
        symlink(&timestamped, &new_data).unwrap();
        std::fs::rename(&new_data, &data).unwrap();
        for (key, _) in secrets {
            let visible = self.dir.join(key);
            if visible.symlink_metadata().is_err() {
                symlink(Path::new("..data").join(key), visible).unwrap();
            }
        }
        if let Some(old) = old {
            for entry in std::fs::read_dir(self.dir.join(&old)).unwrap() {
                let key = entry.unwrap().file_name();
                if !secrets.iter().any(|(k, _)| *k == key) {
                    std::fs::remove_file(self.dir.join(key)).unwrap();
                }
            }
            std::fs::remove_dir_all(self.dir.join(old)).unwrap();
        }
    }

    /// The app reads its secrets from here, and looks for changes every 100 ms.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SECRETS_DIR", self.dir.to_str().unwrap().to_string()),
            ("SECRETS_POLL_INTERVAL_MS", "100".into()),
        ]
    }
}

impl Drop for SecretVolume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The app running in this test process.
pub struct TestApp {
    pub address: String,
    pub metrics_address: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    finished: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request failed")
    }

    /// GET with the configured API key (`API_KEY`).
    pub async fn get_with_api_key(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Triggers the graceful shutdown and waits for it to finish.
    pub async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.finished.take().unwrap().await.unwrap();
    }
}

/// Settings for tests: random ports, loopback, no shutdown delay, plus `overrides`.
pub fn test_env(overrides: &[(&str, String)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config")),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("METRICS_PORT", "0"),
        ("WORKERS", "2"),
        ("SHUTDOWN_DELAY_SECONDS", "0"),
        ("SHUTDOWN_TIMEOUT_SECONDS", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env
}

pub async fn spawn_app(overrides: &[(&str, String)]) -> TestApp {
    let settings = configuration::load_from(&test_env(overrides)).expect("test settings are valid");
    let app = Application::build(&settings).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = format!("http://127.0.0.1:{}", app.metrics_port());
    let (tx, rx) = oneshot::channel::<()>();
    let finished = actix_web::rt::spawn(async move {
        app.run_until(
            async { rx.await.unwrap_or_default() },
            std::future::pending(),
        )
        .await
        .expect("app stops cleanly");
    });
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        shutdown: Some(tx),
        finished: Some(finished),
    }
}

/// An app with both API key and HS256 JWT configured.
pub fn auth_env() -> Vec<(&'static str, String)> {
    vec![
        ("DUMMY_API_KEY", API_KEY.into()),
        ("SECRET_MESSAGE", SECRET_MESSAGE.into()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("JWT_ISSUER", "https://issuer.test".into()),
        ("JWT_AUDIENCE", "greeter".into()),
        ("JWT_LEEWAY_SECONDS", "5".into()),
    ]
}

/// The real binary as a child process with stdout captured to a file.
pub struct BinaryApp {
    pub child: Child,
    pub port: u16,
    pub metrics_port: u16,
    pub log_path: PathBuf,
}

impl BinaryApp {
    pub fn start(env: &[(&str, String)]) -> Self {
        let port = free_port();
        let metrics_port = free_port();
        let log_path =
            std::env::temp_dir().join(format!("greeter-log-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_greeter"))
            .env_clear()
            .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("METRICS_PORT", metrics_port.to_string())
            .env("WORKERS", "2")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("greeter binary starts");
        let app = Self {
            child,
            port,
            metrics_port,
            log_path,
        };
        wait_until(
            Duration::from_secs(10),
            "greeter to answer /healthz",
            || {
                app.blocking_get("/healthz")
                    .is_ok_and(|r| r.status() == 200)
            },
        );
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn blocking_get(&self, path: &str) -> reqwest::Result<reqwest::blocking::Response> {
        reqwest::blocking::Client::new()
            .get(self.url(path))
            .timeout(Duration::from_secs(10))
            .send()
    }

    pub fn metrics(&self) -> String {
        reqwest::blocking::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .and_then(|r| r.text())
            .expect("metrics answer")
    }

    pub fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits for exit and returns (exit code, everything logged).
    pub fn wait(mut self, timeout: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("greeter did not exit within {timeout:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let logs = self.logs();
        (status.code(), logs)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for BinaryApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// Asserts an RFC 9457 problem response and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "error bodies are problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], "about:blank");
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}
