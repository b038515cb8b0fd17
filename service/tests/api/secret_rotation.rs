//! Secrets from a Secret volume, rotated the way the kubelet rotates them (a new timestamped
//! directory, then an atomic `..data` swap) while the real binary runs: the new values are used
//! without a restart, an invalid set is refused while the last good one stays in use, and a new
//! Redis password is used for new connections.

use std::time::Duration;

use jsonwebtoken::{encode, EncodingKey, Header};

use crate::helpers::{wait_until, BinaryApp, RedisServer, SecretVolume};

const MESSAGE: &str = "rotated-message-3b7d";
const OLD_KEY: &str = "old-api-key-5f2a-0123456789";
const NEW_KEY: &str = "new-api-key-9c4e-0123456789";
const OLD_JWT: &str = "old-jwt-secret-5f2a-0123456789abcdef0123";
const NEW_JWT: &str = "new-jwt-secret-9c4e-0123456789abcdef0123";
const OLD_REDIS: &str = "old-redis-password-5f2a";
const NEW_REDIS: &str = "new-redis-password-9c4e";
/// The app polls every 100 ms (`SecretVolume::env`); the rest is room for a loaded machine.
const RELOAD: Duration = Duration::from_secs(5);

fn secrets<'a>(api_key: &'a str, jwt_secret: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("SECRET_MESSAGE", MESSAGE),
        ("DUMMY_API_KEY", api_key),
        ("JWT_SECRET", jwt_secret),
    ]
}

fn start(volume: &SecretVolume, more: Vec<(&'static str, String)>) -> BinaryApp {
    let mut env = volume.env();
    env.push(("SHUTDOWN_DELAY_SECONDS", "0".into()));
    env.extend(more);
    BinaryApp::start(&env)
}

fn with_key(app: &BinaryApp, key: &str) -> u16 {
    let request = reqwest::blocking::Client::new().get(app.url("/secret"));
    request
        .header("X-API-Key", key)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn with_token_signed_by(app: &BinaryApp, jwt_secret: &str) -> u16 {
    let token = encode(
        &Header::default(),
        &serde_json::json!({ "exp": 4_000_000_000u64 }),
        &EncodingKey::from_secret(jwt_secret.as_bytes()),
    )
    .unwrap();
    let request = reqwest::blocking::Client::new().get(app.url("/secret"));
    request.bearer_auth(token).send().unwrap().status().as_u16()
}

fn post_visit(app: &BinaryApp) -> u16 {
    let request = reqwest::blocking::Client::new().post(app.url("/visits"));
    request.send().unwrap().status().as_u16()
}

fn assert_no_secret_in(logs: &str) {
    for secret in [
        MESSAGE, OLD_KEY, NEW_KEY, OLD_JWT, NEW_JWT, OLD_REDIS, NEW_REDIS,
    ] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}

#[test]
fn rotated_api_key_and_jwt_secret_are_used_without_a_restart() {
    let mut volume = SecretVolume::new(&secrets(OLD_KEY, OLD_JWT));
    let mut app = start(&volume, vec![]);
    assert_eq!(with_key(&app, OLD_KEY), 200);
    assert_eq!(with_key(&app, NEW_KEY), 401);
    assert_eq!(with_token_signed_by(&app, OLD_JWT), 200);

    volume.update(&secrets(NEW_KEY, OLD_JWT));
    wait_until(RELOAD, "the new API key to be accepted", || {
        with_key(&app, NEW_KEY) == 200
    });
    assert_eq!(with_key(&app, OLD_KEY), 401, "the old API key is refused");
    assert_eq!(
        with_token_signed_by(&app, OLD_JWT),
        200,
        "JWT_SECRET did not change"
    );

    volume.update(&secrets(NEW_KEY, NEW_JWT));
    wait_until(RELOAD, "a token signed with the new JWT secret", || {
        with_token_signed_by(&app, NEW_JWT) == 200
    });
    assert_eq!(
        with_token_signed_by(&app, OLD_JWT),
        401,
        "the old JWT secret is refused"
    );
    assert_eq!(with_key(&app, NEW_KEY), 200);

    assert!(
        app.child.try_wait().unwrap().is_none(),
        "the same process, never restarted"
    );
    let metrics = app.metrics();
    for line in [
        r#"greeter_secrets_reloads_total{outcome="applied"} 2"#,
        r#"greeter_secrets_reloads_total{outcome="rejected"} 0"#,
        "greeter_secrets_last_reload_successful 1",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    let logs = app.logs();
    let reloads: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("secret files changed"))
        .collect();
    assert_eq!(reloads.len(), 2, "{logs}");
    assert!(
        reloads[0].contains(r#"[\"DUMMY_API_KEY\"]"#),
        "{}",
        reloads[0]
    );
    assert!(reloads[1].contains(r#"[\"JWT_SECRET\"]"#), "{}", reloads[1]);
    assert_no_secret_in(&logs);
}

#[test]
fn an_invalid_rotated_secret_is_refused_and_the_last_good_one_stays() {
    const TOO_SHORT: &str = "short-7e1d";
    let mut volume = SecretVolume::new(&secrets(OLD_KEY, OLD_JWT));
    let app = start(&volume, vec![]);

    volume.update(&secrets(TOO_SHORT, OLD_JWT));
    wait_until(RELOAD, "the refusal", || {
        app.metrics()
            .contains("greeter_secrets_last_reload_successful 0")
    });
    assert_eq!(
        with_key(&app, OLD_KEY),
        200,
        "the last good key stays in use"
    );
    assert_eq!(with_key(&app, TOO_SHORT), 401);
    // A missing file at runtime is refused the same way: API keys still need SECRET_MESSAGE.
    volume.update(&[("DUMMY_API_KEY", NEW_KEY), ("JWT_SECRET", OLD_JWT)]);
    wait_until(RELOAD, "the second refusal", || {
        app.metrics()
            .contains(r#"greeter_secrets_reloads_total{outcome="rejected"} 2"#)
    });
    assert_eq!(with_key(&app, OLD_KEY), 200);
    assert_eq!(with_key(&app, NEW_KEY), 401);
    let logs = app.logs();
    let refusals: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("secret files refused"))
        .collect();
    assert_eq!(
        refusals.len(),
        2,
        "each refused set is logged once:\n{logs}"
    );
    assert!(
        refusals[0].contains("DUMMY_API_KEY: must be at least 16 characters"),
        "{}",
        refusals[0]
    );
    assert!(
        refusals[0].contains(r#""level":"ERROR""#),
        "{}",
        refusals[0]
    );
    assert!(
        refusals[1].contains("SECRET_MESSAGE: required"),
        "{}",
        refusals[1]
    );
    assert!(
        !logs.contains(TOO_SHORT),
        "the refused value leaked into the logs"
    );

    volume.update(&secrets(NEW_KEY, OLD_JWT));
    wait_until(RELOAD, "the fixed set to be applied", || {
        with_key(&app, NEW_KEY) == 200
    });
    let metrics = app.metrics();
    assert!(
        metrics.contains("greeter_secrets_last_reload_successful 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"greeter_secrets_reloads_total{outcome="applied"} 1"#),
        "{metrics}"
    );
    assert_no_secret_in(&app.logs());
}

#[test]
fn a_rotated_redis_password_is_used_for_new_connections() {
    let mut redis = RedisServer::start();
    redis.set_password(OLD_REDIS);
    let mut volume = SecretVolume::new(&[("REDIS_PASSWORD", OLD_REDIS)]);
    let app = start(&volume, redis.env());
    assert_eq!(post_visit(&app), 200);

    // Redis takes the new password and drops its clients, as a restart with it would (open
    // connections otherwise stay authenticated). New connections with the old one are refused:
    redis.set_password(NEW_REDIS);
    assert!(redis.command("CLIENT KILL TYPE normal").starts_with(':'));
    wait_until(RELOAD, "Redis to refuse the old password", || {
        post_visit(&app) == 503 && app.logs().contains("Password authentication failed")
    });

    volume.update(&[("REDIS_PASSWORD", NEW_REDIS)]);
    wait_until(
        RELOAD,
        "a visit over a connection with the new password",
        || post_visit(&app) == 200,
    );
    assert_eq!(
        redis.command("GET greeter:visits").lines().nth(1),
        Some("2")
    );
    assert_no_secret_in(&app.logs());
}
