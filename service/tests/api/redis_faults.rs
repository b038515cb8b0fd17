//! Redis killed, restarted and paused under the running app: the routes that need it fail fast,
//! the rest (and readiness) do not notice, and its health stays visible as a metric.

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
    // Only the routes that need Redis fail: the pod stays ready and keeps serving the rest.
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/").await.status(), 200);
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
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/").await.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "readiness and the greeting do not wait on Redis: {:?}",
        started.elapsed()
    );

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

/// `greeter_visit_store_up` (what `GreeterRedisDown` reads) follows Redis by itself: no request
/// and no readiness probe touches the store here.
#[actix_web::test]
async fn redis_health_is_a_metric_without_traffic() {
    let mut redis = RedisServer::start();
    let app = spawn_app(&redis.env()).await;
    let up = |value: u8| format!("greeter_visit_store_up{{backend=\"redis\"}} {value}");
    // The ping interval (5 s) plus slack for a loaded machine.
    let within = Duration::from_secs(8);
    wait_for_metric(&app, &up(1), within).await;
    redis.kill();
    wait_for_metric(&app, &up(0), within).await;
    redis.restart();
    wait_for_metric(&app, &up(1), within).await;
    assert!(
        !app.metrics().await.contains("greeter_http_requests_total"),
        "no request was served"
    );
    app.stop().await;
}

async fn wait_for_metric(app: &crate::helpers::TestApp, line: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !app.metrics().await.contains(line) {
        assert!(Instant::now() < deadline, "no {line:?} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
