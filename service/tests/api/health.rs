use crate::helpers::{assert_problem, spawn_app, RedisServer};

#[actix_web::test]
async fn health_and_readiness_with_redis() {
    let redis = RedisServer::start();
    let app = spawn_app(&redis.env()).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    app.stop().await;
}

/// Readiness means "this process takes traffic": Redis down must not take every pod out of the
/// Services (and `/`, `/version`, `/secret` with them); `/visits` answers its own fast 503.
#[actix_web::test]
async fn readiness_does_not_depend_on_redis() {
    let port = crate::helpers::free_port(); // nothing listens there
    let app = spawn_app(&[
        ("REDIS_HOST", "127.0.0.1".into()),
        ("REDIS_PORT", port.to_string()),
    ])
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200, "Redis is not a readiness dependency");
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
    assert_eq!(
        app.get("/").await.status(),
        200,
        "the greeting needs no Redis"
    );
    let body = assert_problem(app.get("/visits").await, 503).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("visit store unavailable"),
        "{body}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn version_reports_crate_version_and_revision() {
    let app = spawn_app(&[]).await;
    let body: serde_json::Value = app.get("/version").await.json().await.unwrap();
    assert_eq!(
        body["version"],
        option_env!("GREETER_VERSION").unwrap_or(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        body["revision"],
        option_env!("GREETER_REVISION").unwrap_or("unknown")
    );
    app.stop().await;
}
