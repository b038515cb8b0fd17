use std::collections::HashSet;

use crate::helpers::{spawn_app, RedisServer};

#[actix_web::test]
async fn visits_count_in_redis() {
    let redis = RedisServer::start();
    let app = spawn_app(&redis.env()).await;
    let get: serde_json::Value = app.get("/visits").await.json().await.unwrap();
    assert_eq!(get["visits"], 0);
    for expected in 1..=3 {
        let response = app.post("/visits").await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["visits"], expected);
    }
    let get: serde_json::Value = app.get("/visits").await.json().await.unwrap();
    assert_eq!(get["visits"], 3);
    assert!(redis.command("GET greeter:visits").contains("\r\n3\r\n"));
    app.stop().await;
}

#[actix_web::test]
async fn concurrent_increments_are_atomic() {
    let redis = RedisServer::start();
    let app = spawn_app(&redis.env()).await;
    let requests = (0..200).map(|_| app.post("/visits"));
    let mut seen = HashSet::new();
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            seen.insert(body["visits"].as_u64().unwrap()),
            "duplicate count"
        );
    }
    assert_eq!(seen, (1..=200).collect());
    let get: serde_json::Value = app.get("/visits").await.json().await.unwrap();
    assert_eq!(get["visits"], 200);
    app.stop().await;
}

#[actix_web::test]
async fn in_memory_store_without_redis() {
    let app = spawn_app(&[]).await;
    for expected in 1..=2 {
        let body: serde_json::Value = app.post("/visits").await.json().await.unwrap();
        assert_eq!(body["visits"], expected);
    }
    let body: serde_json::Value = app.get("/visits").await.json().await.unwrap();
    assert_eq!(body["visits"], 2);
    assert!(app
        .metrics()
        .await
        .contains(r#"greeter_visit_store_operations_total{backend="memory",operation="incr"} 2"#));
    app.stop().await;
}

#[actix_web::test]
async fn redis_password_is_used() {
    let redis = RedisServer::start();
    redis.command("CONFIG SET requirepass s3cret-redis-pass");
    let mut env = redis.env();
    env.push(("REDIS_PASSWORD", "s3cret-redis-pass".into()));
    let app = spawn_app(&env).await;
    assert_eq!(app.post("/visits").await.status(), 200);
    app.stop().await;

    let mut env = redis.env();
    env.push(("REDIS_PASSWORD", "wrong-password".into()));
    let app = spawn_app(&env).await;
    crate::helpers::assert_problem(app.post("/visits").await, 503).await;
    crate::helpers::assert_problem(app.get("/readyz").await, 503).await;
    app.stop().await;
}
