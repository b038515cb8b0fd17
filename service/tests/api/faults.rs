//! Fault injection for game days: `FAULT_ERROR_RATIO` fails that share of the app routes' requests
//! (never the probes), `FAULT_VISIT_STORE_DELAY_MS` makes the visit store answer late, within the
//! Redis command timeout: slow successes below it, 503 above it.

use std::time::{Duration, Instant};

use crate::helpers::{assert_problem, auth_env, spawn_app, BinaryApp, RedisServer};

#[actix_web::test]
async fn error_ratio_1_fails_every_app_route_but_never_the_probes() {
    let mut env = auth_env();
    env.push(("FAULT_ERROR_RATIO", "1".into()));
    let app = spawn_app(&env).await;
    for path in ["/", "/visits", "/version", "/openapi.json"] {
        let body = assert_problem(app.get(path).await, 500).await;
        assert_eq!(
            body["detail"], "injected fault (FAULT_ERROR_RATIO)",
            "{path}"
        );
    }
    assert_problem(app.post("/visits").await, 500).await;
    let with_key = app.get_with_api_key("/secret").await;
    assert_problem(with_key, 500).await;
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(app.get(probe).await.status(), 200, "{probe}");
    }
    assert_problem(app.get("/no-such-route").await, 404).await;

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"greeter_http_requests_total{endpoint="/",method="GET",status="500",traffic="client"} 1"#),
        "the canary gate sees the failures: {metrics}"
    );
    assert!(
        metrics.contains(
            r#"greeter_visit_store_operations_total{backend="memory",operation="incr"} 0"#
        ),
        "a failed request never reached its handler: {metrics}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn error_ratio_fails_about_that_share() {
    let app = spawn_app(&[("FAULT_ERROR_RATIO", "0.5".into())]).await;
    let mut failed = 0;
    for _ in 0..200 {
        match app.get("/version").await.status().as_u16() {
            500 => failed += 1,
            200 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    // Binomial(200, 0.5): outside 60..=140 with a probability below 1e-8.
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
    app.stop().await;
}

#[actix_web::test]
async fn visit_store_delay_below_the_command_timeout_is_a_slow_success() {
    let redis = RedisServer::start();
    let mut env = redis.env();
    env.push(("FAULT_VISIT_STORE_DELAY_MS", "300".into()));
    env.push(("REDIS_COMMAND_TIMEOUT_MS", "2000".into()));
    let app = spawn_app(&env).await;
    for expected in 1..=2 {
        let started = Instant::now();
        let response = app.post("/visits").await;
        let took = started.elapsed();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["visits"], expected);
        assert!(took >= Duration::from_millis(300), "took {took:?}");
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"greeter_visit_store_operation_duration_seconds_bucket{backend="redis",operation="incr",le="0.25"} 0"#),
        "every increment took the delay: {metrics}"
    );
    app.stop().await;

    let memory = spawn_app(&[("FAULT_VISIT_STORE_DELAY_MS", "300".into())]).await;
    let started = Instant::now();
    assert_eq!(memory.get("/visits").await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    memory.stop().await;
}

#[actix_web::test]
async fn visit_store_delay_above_the_command_timeout_is_a_fast_503() {
    let redis = RedisServer::start();
    let mut env = redis.env();
    env.push(("FAULT_VISIT_STORE_DELAY_MS", "5000".into()));
    env.push(("REDIS_COMMAND_TIMEOUT_MS", "200".into()));
    let app = spawn_app(&env).await;
    for _ in 0..2 {
        let started = Instant::now();
        let body = assert_problem(app.post("/visits").await, 503).await;
        let took = started.elapsed();
        assert_eq!(
            body["detail"],
            "visit store unavailable: no answer within 200ms"
        );
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(2000),
            "cut at the command timeout, not the delay: {took:?}"
        );
    }
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/").await.status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"greeter_visit_store_errors_total{backend="redis",kind="timeout",operation="incr"} 2"#
        ),
        "{metrics}"
    );
    // The delay comes before the command, which the timeout then cancels: nothing was counted.
    assert!(redis.command("EXISTS greeter:visits").contains(":0"));
    app.stop().await;
}

#[test]
fn startup_warns_while_a_fault_is_on() {
    let warning = "fault injection is on";
    // Logged before the port answers, which `start` waits for.
    let logs = BinaryApp::start(&[("FAULT_ERROR_RATIO", "0.1".into())]).logs();
    let line = logs
        .lines()
        .find(|line| line.contains(warning))
        .unwrap_or_else(|| panic!("no {warning:?} in:\n{logs}"));
    assert!(
        line.contains(r#""level":"WARN""#) && line.contains(r#""error_ratio":"0.1""#),
        "{line}"
    );
    let logs = BinaryApp::start(&[]).logs();
    assert!(!logs.contains(warning), "{logs}");
}
