//! Secret values never reach the logs, whatever requests arrive.

use std::time::Duration;

use jsonwebtoken::{encode, EncodingKey, Header};

use crate::helpers::{BinaryApp, RedisServer, API_KEY, JWT_SECRET, SECRET_MESSAGE};

const REDIS_PASSWORD: &str = "redis-password-4d9b";

#[test]
fn secrets_never_appear_in_logs() {
    let redis = RedisServer::start();
    redis.command(&format!("CONFIG SET requirepass {REDIS_PASSWORD}"));
    let mut env = vec![
        ("RUST_LOG", "debug".to_string()),
        ("LOG_FORMAT", "json".into()),
        ("DUMMY_API_KEY", API_KEY.into()),
        ("SECRET_MESSAGE", SECRET_MESSAGE.into()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("REDIS_PASSWORD", REDIS_PASSWORD.into()),
        ("SHUTDOWN_DELAY_SECONDS", "0".into()),
    ];
    env.extend(redis.env());
    let app = BinaryApp::start(&env);
    let client = reqwest::blocking::Client::new();
    let token = encode(
        &Header::default(),
        &serde_json::json!({ "exp": 4_000_000_000u64 }),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let send =
        |request: reqwest::blocking::RequestBuilder| request.send().unwrap().status().as_u16();
    assert_eq!(
        send(client.get(app.url("/secret")).header("X-API-Key", API_KEY)),
        200
    );
    assert_eq!(
        send(
            client
                .get(app.url("/secret"))
                .header("X-API-Key", format!("{API_KEY}-wrong"))
        ),
        401
    );
    assert_eq!(
        send(client.get(app.url("/secret")).bearer_auth(&token)),
        200
    );
    assert_eq!(
        send(
            client
                .get(app.url("/secret"))
                .bearer_auth(format!("{token}x"))
        ),
        401
    );
    assert_eq!(send(client.post(app.url("/visits"))), 200);
    assert_eq!(send(client.get(app.url("/readyz"))), 200);
    assert_eq!(send(client.get(app.url("/nope"))), 404);

    app.signal(libc::SIGTERM);
    let (code, logs) = app.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(
        logs.contains("greeter listening"),
        "logs were captured:\n{logs}"
    );
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every line is JSON"
    );
    for secret in [API_KEY, SECRET_MESSAGE, JWT_SECRET, REDIS_PASSWORD, &token] {
        assert!(
            !logs.contains(secret),
            "secret {secret:?} leaked into logs:\n{logs}"
        );
    }
}
