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
    app.stop().await;
}

/// Group commit: the increments and reads that arrive on a worker while its previous command is on
/// the wire share the next one, and every increment still gets its own count.
#[actix_web::test]
async fn requests_arriving_while_a_command_is_on_the_wire_share_the_next() {
    let redis = RedisServer::start();
    let mut env = redis.env();
    env.push(("WORKERS", "1".into()));
    env.push(("REDIS_COMMAND_TIMEOUT_MS", "10000".into()));
    let app = std::sync::Arc::new(spawn_app(&env).await);
    assert_eq!(app.post("/visits").await.status(), 200);
    redis.command("CONFIG RESETSTAT");

    // While Redis is stopped, the first INCRBY and the first GET stay on the wire.
    unsafe { libc::kill(redis.pid() as i32, libc::SIGSTOP) };
    let spawn = |path: &'static str, post: bool| {
        let app = app.clone();
        tokio::spawn(async move {
            let response = if post {
                app.post(path).await
            } else {
                app.get(path).await
            };
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.unwrap();
            body["visits"].as_u64().unwrap()
        })
    };
    let mut posts = vec![spawn("/visits", true)];
    let mut gets = vec![spawn("/visits", false)];
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    posts.extend((0..40).map(|_| spawn("/visits", true)));
    gets.extend((0..10).map(|_| spawn("/visits", false)));
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    unsafe { libc::kill(redis.pid() as i32, libc::SIGCONT) };

    let mut counts: Vec<u64> = Vec::new();
    for post in posts {
        counts.push(post.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (2..=42).collect::<Vec<u64>>(), "one count each");
    for get in gets {
        assert!(
            get.await.unwrap() >= 1,
            "a read sees the acknowledged visit"
        );
    }
    let stats = redis.command("INFO commandstats");
    assert!(stats.contains("cmdstat_incrby:calls=2,"), "{stats}");
    assert!(stats.contains("cmdstat_get:calls=2,"), "{stats}");
    let metrics = app.metrics().await;
    for expected in [
        // The warm-up visit, the one on the wire, the 40 that waited: 3 commands.
        r#"greeter_visit_store_batch_size_count{backend="redis",operation="incr"} 3"#,
        r#"greeter_visit_store_batch_size_sum{backend="redis",operation="incr"} 42"#,
        r#"greeter_visit_store_batch_size_bucket{backend="redis",operation="incr",le="32"} 2"#,
        r#"greeter_visit_store_batch_size_count{backend="redis",operation="get"} 2"#,
        r#"greeter_visit_store_operations_total{backend="redis",operation="incr"} 42"#,
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected:?} in:\n{metrics}"
        );
    }
    std::sync::Arc::into_inner(app).unwrap().stop().await;
}
