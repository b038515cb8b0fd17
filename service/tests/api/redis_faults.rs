//! Redis killed, restarted and paused under the running app.

use std::time::{Duration, Instant};

use crate::helpers::{assert_problem, spawn_app, RedisServer};

#[actix_web::test]
async fn redis_killed_and_restarted() {
    let mut redis = RedisServer::start();
    let app = spawn_app(&redis.env()).await;
    for _ in 0..5 {
        assert_eq!(app.post("/visits").await.status(), 200);
    }
    assert_eq!(app.get("/readyz").await.status(), 200);

    redis.kill();
    let started = Instant::now();
    let body = assert_problem(app.post("/visits").await, 503).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "503 must be fast: {:?}",
        started.elapsed()
    );
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .starts_with("visit store unavailable"));
    assert_problem(app.get("/visits").await, 503).await;
    let ready = assert_problem(app.get("/readyz").await, 503).await;
    assert!(ready["detail"].as_str().unwrap().contains("visit store"));
    assert_eq!(app.get("/healthz").await.status(), 200);

    redis.restart();
    let back = Instant::now();
    let mut last = None;
    while back.elapsed() < Duration::from_secs(2) {
        let response = app.post("/visits").await;
        if response.status() == 200 {
            last = Some(response.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = last.expect("service recovers within 2 s of Redis returning");
    // Every acknowledged increment survived the crash (AOF): 5 before, this one after.
    assert_eq!(last["visits"], 6);
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.stop().await;
}

#[actix_web::test]
async fn paused_redis_fails_within_the_command_timeout() {
    let redis = RedisServer::start();
    let mut env = redis.env();
    env.push(("REDIS_COMMAND_TIMEOUT_MS", "200".into()));
    env.push(("REDIS_CONNECT_TIMEOUT_MS", "300".into()));
    let app = spawn_app(&env).await;
    assert_eq!(app.post("/visits").await.status(), 200);

    // Accepts TCP, never answers.
    unsafe { libc::kill(redis.pid() as i32, libc::SIGSTOP) };
    for _ in 0..3 {
        let started = Instant::now();
        assert_problem(app.post("/visits").await, 503).await;
        // One command timeout, or checkout (connect + command) after the connection was dropped.
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "took {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert_problem(app.get("/readyz").await, 503).await;
    assert!(started.elapsed() < Duration::from_millis(1000));

    unsafe { libc::kill(redis.pid() as i32, libc::SIGCONT) };
    let back = Instant::now();
    loop {
        if app.post("/visits").await.status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(2),
            "no recovery after SIGCONT"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}
