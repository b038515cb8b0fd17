//! Invalid configuration: exit 2 before binding, one line naming the variable, no secret echoed.

use std::process::Command;

use crate::helpers::{free_port, SecretVolume};

fn run_with(env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let port = free_port();
    let output = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .env_clear()
        .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env("PORT", port.to_string())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn invalid_settings_exit_2_naming_the_variable() {
    for (env, variable) in [
        (vec![("TIMEZONE_OFFSET", "+15:00")], "TIMEZONE_OFFSET"),
        (vec![("PORT", "not-a-port")], "PORT"),
        (
            vec![("REDIS_HOST", "localhost"), ("REDIS_TLS", "sometimes")],
            "REDIS_TLS",
        ),
        (vec![("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        (
            vec![
                ("JWT_SECRET", "short-secret-value"),
                ("SECRET_MESSAGE", "x"),
            ],
            "JWT_SECRET",
        ),
        (vec![("FAULT_ERROR_RATIO", "2")], "FAULT_ERROR_RATIO"),
        (
            vec![("FAULT_VISIT_STORE_DELAY_MS", "soon")],
            "FAULT_VISIT_STORE_DELAY_MS",
        ),
    ] {
        let (code, stdout, stderr) = run_with(&env);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with(&format!("invalid configuration: {variable}: ")),
            "{stderr}"
        );
        assert!(!stdout.contains("listening"), "nothing was bound: {stdout}");
        for (_, value) in env.iter().filter(|(k, _)| k.contains("SECRET")) {
            assert!(!stderr.contains(value), "secret echoed: {stderr}");
        }
    }
}

/// Secrets from files (`SECRETS_DIR`) are checked at startup like any setting, and the error
/// names the variable (the file) or the directory.
#[test]
fn invalid_secret_files_exit_2_naming_the_variable() {
    const KEY: &str = "api-key-file-0123456789";
    const MESSAGE: &str = "message-from-a-file";
    let short_key =
        SecretVolume::new(&[("DUMMY_API_KEY", "short-key"), ("SECRET_MESSAGE", MESSAGE)]);
    let no_message = SecretVolume::new(&[("DUMMY_API_KEY", KEY)]);
    let typo = SecretVolume::new(&[("JWT_SECRETS", "x"), ("SECRET_MESSAGE", MESSAGE)]);
    let valid = SecretVolume::new(&[("DUMMY_API_KEY", KEY), ("SECRET_MESSAGE", MESSAGE)]);
    let not_text = SecretVolume::new(&[("JWT_SECRET", "placeholder")]);
    std::fs::write(not_text.dir.join("JWT_SECRET"), [0xff, 0xfe, 0x00]).unwrap();
    let dir = |volume: &SecretVolume| volume.dir.to_str().unwrap().to_string();
    for (env, variable, detail) in [
        (
            vec![("SECRETS_DIR", "/nonexistent/greeter".to_string())],
            "SECRETS_DIR",
            "No such file",
        ),
        (
            vec![("SECRETS_DIR", dir(&short_key))],
            "DUMMY_API_KEY",
            "at least 16",
        ),
        (
            vec![("SECRETS_DIR", dir(&no_message))],
            "SECRET_MESSAGE",
            "required",
        ),
        (
            vec![("SECRETS_DIR", dir(&typo))],
            "SECRETS_DIR",
            "unexpected file \"JWT_SECRETS\"",
        ),
        (
            vec![("SECRETS_DIR", dir(&not_text))],
            "JWT_SECRET",
            "valid UTF-8",
        ),
        (
            vec![
                ("SECRETS_DIR", dir(&valid)),
                ("SECRET_MESSAGE", MESSAGE.into()),
            ],
            "SECRET_MESSAGE",
            "secrets come from the files in SECRETS_DIR alone",
        ),
    ] {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, _, stderr) = run_with(&env);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with(&format!("invalid configuration: {variable}: "))
                && stderr.contains(detail),
            "{env:?}: {stderr}"
        );
        for secret in [KEY, MESSAGE, "short-key"] {
            assert!(!stderr.contains(secret), "secret echoed: {stderr}");
        }
    }
}

#[test]
fn port_in_use_fails_with_a_clear_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let (code, stdout, _) = run_with(&[("HOST", "127.0.0.1"), ("PORT", &port)]);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains(&format!("cannot bind public port {port}")),
        "{stdout}"
    );
}
