//! REDIS_TLS (prod's managed Redis): a real TLS redis-server, the server certificate issued by a
//! throwaway CA that the binary trusts through SSL_CERT_FILE (the OS trust store in production).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{free_port, wait_until, BinaryApp};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}): apt-get install openssl"));
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA and a server certificate for localhost, valid for a day.
fn certificates(dir: &Path) {
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=greeter-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

struct TlsRedis(Child);

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_tls_redis(dir: &Path, port: u16) -> TlsRedis {
    let child = Command::new("redis-server")
        .current_dir(dir)
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--tls-cert-file",
            "server.pem",
            "--tls-key-file",
            "server.key",
        ])
        .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts (apt-get install redis-server)");
    wait_until(Duration::from_secs(10), "the TLS port to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    TlsRedis(child)
}

#[test]
fn visits_over_tls_with_a_verified_certificate() {
    let dir = std::env::temp_dir().join(format!("greeter-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let port = free_port();
    let _redis = start_tls_redis(&dir, port);
    let env = |trusted: &Path| {
        vec![
            ("REDIS_HOST", "localhost".to_string()),
            ("REDIS_PORT", port.to_string()),
            ("REDIS_TLS", "true".into()),
            ("SSL_CERT_FILE", trusted.to_str().unwrap().to_string()),
            ("SHUTDOWN_DELAY_SECONDS", "0".into()),
        ]
    };
    let client = reqwest::blocking::Client::new();

    let app = BinaryApp::start(&env(&dir.join("ca.pem")));
    for expected in 1..=2 {
        let response = client.post(app.url("/visits")).send().unwrap();
        assert_eq!(response.status(), 200, "{}", app.logs());
        let body: serde_json::Value = response.json().unwrap();
        assert_eq!(body["visits"], expected);
    }
    drop(app);

    // With only the public roots, the test CA's certificate is refused: 503, never plain text.
    let app = BinaryApp::start(&env(Path::new("/etc/ssl/certs/ca-certificates.crt")));
    assert_eq!(
        client.post(app.url("/visits")).send().unwrap().status(),
        503
    );
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}
