//! The full JWT matrix and API keys on `/secret`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{
    assert_problem, auth_env, spawn_app, TestApp, API_KEY, JWT_SECRET, SECRET_MESSAGE,
};

const RSA_PRIVATE: &str = include_str!("../fixtures/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../fixtures/rsa-public.pem");
const EC_PRIVATE: &str = include_str!("../fixtures/ec-private.pem");
const EC_PUBLIC: &str = include_str!("../fixtures/ec-public.pem");

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> serde_json::Value {
    json!({ "sub": "tester", "iss": "https://issuer.test", "aud": "greeter", "exp": now() + 300 })
}

fn with(mut claims: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

fn hs256(claims: &serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn rs256(claims: &serde_json::Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

fn es256(claims: &serde_json::Value) -> String {
    let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::ES256), claims, &key).unwrap()
}

async fn bearer(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/secret", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn assert_rejected(response: reqwest::Response, detail: &str) {
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let body = assert_problem(response, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains(detail),
        "expected {detail:?} in {body}"
    );
}

async fn assert_accepted(response: reqwest::Response) {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["message"], SECRET_MESSAGE);
}

#[actix_web::test]
async fn hs256_matrix() {
    let app = spawn_app(&auth_env()).await;
    assert_accepted(bearer(&app, &hs256(&claims(), JWT_SECRET)).await).await;
    // Within the 5 s leeway is still valid.
    assert_accepted(
        bearer(
            &app,
            &hs256(&with(claims(), "exp", json!(now() - 2)), JWT_SECRET),
        )
        .await,
    )
    .await;

    let cases = [
        (
            hs256(&with(claims(), "exp", json!(now() - 60)), JWT_SECRET),
            "expired",
        ),
        (
            hs256(&with(claims(), "nbf", json!(now() + 60)), JWT_SECRET),
            "not yet valid",
        ),
        (
            hs256(&claims(), "another-secret-0123456789abcdef0123456789"),
            "bad signature",
        ),
        (
            hs256(
                &with(claims(), "iss", json!("https://evil.test")),
                JWT_SECRET,
            ),
            "wrong issuer",
        ),
        (
            hs256(&with(claims(), "aud", json!("someone-else")), JWT_SECRET),
            "wrong audience",
        ),
        (
            hs256(&with(claims(), "exp", serde_json::Value::Null), JWT_SECRET),
            "missing required claim",
        ),
        (
            hs256(&with(claims(), "iss", serde_json::Value::Null), JWT_SECRET),
            "missing required claim",
        ),
        ("garbage".to_string(), "malformed"),
        ("a.b.c".to_string(), "malformed"),
        (format!("{}.{}", "x".repeat(9000), "y"), "too large"),
    ];
    for (token, detail) in cases {
        assert_rejected(bearer(&app, &token).await, detail).await;
    }
    app.stop().await;
}

#[actix_web::test]
async fn alg_none_is_rejected() {
    let app = spawn_app(&auth_env()).await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64.encode(claims().to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert_rejected(bearer(&app, &token).await, "invalid token").await;
    }
    app.stop().await;
}

#[actix_web::test]
async fn rs256_accepts_only_rs256() {
    let app = spawn_app(&[
        ("SECRET_MESSAGE", SECRET_MESSAGE.into()),
        ("JWT_PUBLIC_KEY", RSA_PUBLIC.into()),
    ])
    .await;
    let rs256 = rs256(&claims());
    assert_accepted(bearer(&app, &rs256).await).await;
    // HS/RS confusion: an HS256 token keyed with the public key's PEM must not verify.
    assert_rejected(
        bearer(&app, &hs256(&claims(), RSA_PUBLIC)).await,
        "algorithm not accepted",
    )
    .await;
    // A valid ES256 token from another key family is refused too.
    let es256 = es256(&claims());
    assert_rejected(bearer(&app, &es256).await, "algorithm not accepted").await;
    app.stop().await;
}

#[actix_web::test]
async fn es256_with_escaped_newlines_in_env() {
    let app = spawn_app(&[
        ("SECRET_MESSAGE", SECRET_MESSAGE.into()),
        ("JWT_PUBLIC_KEY", EC_PUBLIC.replace('\n', "\\n")),
    ])
    .await;
    let es256 = es256(&claims());
    assert_accepted(bearer(&app, &es256).await).await;
    app.stop().await;
}

#[actix_web::test]
async fn api_key_right_and_wrong() {
    let app = spawn_app(&auth_env()).await;
    let with_key = |key: &str| {
        app.client
            .get(format!("{}/secret", app.address))
            .header("X-API-Key", key)
            .send()
    };
    assert_accepted(with_key(API_KEY).await.unwrap()).await;
    for wrong in [
        "wrong",
        "",
        &API_KEY[..API_KEY.len() - 1],
        &format!("{API_KEY}x"),
    ] {
        assert_rejected(with_key(wrong).await.unwrap(), "invalid API key").await;
    }
    // No credentials at all: 401 with a Bearer challenge, never 200.
    assert_rejected(app.get("/secret").await, "credentials required").await;
    let basic = app
        .client
        .get(format!("{}/secret", app.address))
        .basic_auth("user", Some("pass"))
        .send()
        .await
        .unwrap();
    assert_rejected(basic, "Bearer").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"greeter_auth_attempts_total{outcome="accepted",scheme="api_key"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"greeter_auth_attempts_total{outcome="rejected",scheme="api_key"} 4"#)
    );
    app.stop().await;
}

#[actix_web::test]
async fn unconfigured_auth_is_503() {
    let app = spawn_app(&[]).await;
    let body = assert_problem(app.get("/secret").await, 503).await;
    assert_eq!(body["detail"], "authentication not configured");
    let with_key = app.get_with_api_key("/secret").await;
    assert_problem(with_key, 503).await;
    app.stop().await;
}
