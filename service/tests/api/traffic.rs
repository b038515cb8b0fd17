//! `X-Greeter-Traffic: synthetic`: labelled apart in the HTTP metrics, counted on a visit counter
//! of its own through the same store code (the same Redis commands, timeouts and errors).

use crate::helpers::{assert_problem, free_port, spawn_app, RedisServer, TestApp};

async fn synthetic(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, format!("{}{path}", app.address))
        .header("X-Greeter-Traffic", "synthetic")
        .send()
        .await
        .expect("request failed")
}

async fn visits(response: reqwest::Response) -> u64 {
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["visits"].as_u64().unwrap()
}

/// Two client visits and three synthetic ones: each side counts only its own.
async fn count_apart(app: &TestApp) {
    use reqwest::Method;
    for expected in 1..=2 {
        assert_eq!(visits(app.post("/visits").await).await, expected);
    }
    for expected in 1..=3 {
        assert_eq!(
            visits(synthetic(app, Method::POST, "/visits").await).await,
            expected
        );
    }
    assert_eq!(visits(app.get("/visits").await).await, 2, "client count");
    assert_eq!(
        visits(synthetic(app, Method::GET, "/visits").await).await,
        3,
        "synthetic count"
    );
    // Any other value of the header is a client.
    let other = app
        .client
        .get(format!("{}/visits", app.address))
        .header("X-Greeter-Traffic", "Synthetic")
        .send()
        .await
        .unwrap();
    assert_eq!(visits(other).await, 2);

    let metrics = app.metrics().await;
    for expected in [
        r#"greeter_http_requests_total{endpoint="/visits",method="POST",status="200",traffic="client"} 2"#,
        r#"greeter_http_requests_total{endpoint="/visits",method="POST",status="200",traffic="synthetic"} 3"#,
        r#"greeter_http_requests_total{endpoint="/visits",method="GET",status="200",traffic="client"} 2"#,
        r#"greeter_http_requests_total{endpoint="/visits",method="GET",status="200",traffic="synthetic"} 1"#,
        r#"greeter_http_requests_duration_seconds_count{endpoint="/visits",method="POST",status="200",traffic="synthetic"} 3"#,
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected:?} in:\n{metrics}"
        );
    }
}

#[actix_web::test]
async fn synthetic_visits_count_apart_in_memory() {
    let app = spawn_app(&[]).await;
    count_apart(&app).await;
    app.stop().await;
}

#[actix_web::test]
async fn synthetic_visits_count_apart_in_redis() {
    let redis = RedisServer::start();
    let app = spawn_app(&redis.env()).await;
    count_apart(&app).await;
    assert!(redis.command("GET greeter:visits").contains("\r\n2\r\n"));
    assert!(redis
        .command("GET greeter:visits:synthetic")
        .contains("\r\n3\r\n"));
    // The same commands for both: only INCRBY and GET touch the counters.
    let stats = redis.command("INFO commandstats");
    assert!(!stats.contains("cmdstat_incr:"), "{stats}");
    assert!(stats.contains("cmdstat_incrby:calls=5,"), "{stats}");
    app.stop().await;
}

/// Synthetic requests fail exactly as client ones do: the canary's Redis path is what they test.
#[actix_web::test]
async fn synthetic_visits_fail_like_client_visits() {
    let app = spawn_app(&[
        ("REDIS_HOST", "127.0.0.1".into()),
        ("REDIS_PORT", free_port().to_string()),
    ])
    .await;
    let client = assert_problem(app.post("/visits").await, 503).await;
    let synthetic =
        assert_problem(synthetic(&app, reqwest::Method::POST, "/visits").await, 503).await;
    assert_eq!(client["detail"], synthetic["detail"]);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"greeter_visit_store_errors_total{backend="redis",kind="unavailable",operation="incr"} 2"#),
        "{metrics}"
    );
    app.stop().await;
}
