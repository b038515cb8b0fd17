//! The metric names and labels documented in docs/metrics.md, on the metrics port only.

use crate::helpers::{spawn_app, RedisServer};

#[actix_web::test]
async fn documented_metrics_on_the_metrics_port() {
    let redis = RedisServer::start();
    let app = spawn_app(&redis.env()).await;
    app.post("/visits").await;
    app.get("/visits").await;
    app.get("/").await;
    app.get("/healthz").await;
    app.get("/readyz").await;
    let metrics = app.metrics().await;
    for expected in [
        r#"greeter_http_requests_total{endpoint="/visits",method="POST",status="200",traffic="client"} 1"#,
        r#"greeter_http_requests_total{endpoint="/visits",method="GET",status="200",traffic="client"} 1"#,
        r#"greeter_http_requests_total{endpoint="/",method="GET",status="200",traffic="client"} 1"#,
        r#"greeter_http_requests_duration_seconds_bucket{endpoint="/",method="GET",status="200",traffic="client",le="0.25"} 1"#,
        r#"greeter_http_requests_duration_seconds_count{endpoint="/visits",method="POST",status="200",traffic="client"} 1"#,
        r#"greeter_build_info{revision="#,
        r#"greeter_visit_store_operations_total{backend="redis",operation="incr"} 1"#,
        r#"greeter_visit_store_operations_total{backend="redis",operation="get"} 1"#,
        // The health ping, at startup and every 5 s.
        r#"greeter_visit_store_operations_total{backend="redis",operation="ping"} "#,
        r#"greeter_visit_store_operation_duration_seconds_bucket{backend="redis",operation="incr",le="#,
        r#"greeter_visit_store_up{backend="redis"} 1"#,
        r#"greeter_visit_store_batch_size_count{backend="redis",operation="incr"} 1"#,
        r#"greeter_visit_store_batch_size_sum{backend="redis",operation="get"} 1"#,
        "greeter_visit_store_pool_max_size 16",
        "greeter_visit_store_pool_size ",
        "greeter_visit_store_pool_available ",
        "greeter_visit_store_pool_waiting 0",
        r#"greeter_secrets_reloads_total{outcome="applied"} 0"#,
        r#"greeter_secrets_reloads_total{outcome="rejected"} 0"#,
        "greeter_secrets_last_reload_successful 1",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected:?} in:\n{metrics}"
        );
    }
    assert!(
        !metrics.contains(r#"endpoint="/healthz""#) && !metrics.contains(r#"endpoint="/readyz""#),
        "probes are not counted"
    );
    app.stop().await;
}

#[actix_web::test]
async fn store_errors_are_counted_by_kind() {
    let port = crate::helpers::free_port();
    let app = spawn_app(&[
        ("REDIS_HOST", "127.0.0.1".into()),
        ("REDIS_PORT", port.to_string()),
    ])
    .await;
    assert_eq!(app.post("/visits").await.status(), 503);
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"greeter_visit_store_errors_total{backend="redis",kind="unavailable",operation="incr"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"greeter_visit_store_up{backend="redis"} 0"#));
    assert!(metrics.contains(
        r#"greeter_http_requests_total{endpoint="/visits",method="POST",status="503",traffic="client"} 1"#
    ));
    app.stop().await;
}

#[actix_web::test]
async fn unknown_paths_do_not_create_label_values() {
    let app = spawn_app(&[]).await;
    for i in 0..20 {
        app.get(&format!("/scan-{i}/wp-admin.php")).await;
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"greeter_http_requests_total{endpoint="UNKNOWN",method="GET",status="404",traffic="client"} 20"#
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("scan-"), "raw paths leaked into labels");
    let endpoints: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("greeter_http_requests_total{"))
        .filter_map(|l| l.split("endpoint=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(endpoints.into_iter().collect::<Vec<_>>(), ["UNKNOWN"]);
    app.stop().await;
}

/// What a middleware refuses before any handler runs is answered, so it is counted too.
#[actix_web::test]
async fn refused_requests_are_counted_with_their_status() {
    let app = spawn_app(&[("REQUEST_BODY_LIMIT_BYTES", "16".into())]).await;
    let response = app
        .client
        .post(format!("{}/visits", app.address))
        .body("x".repeat(64))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(response, 413).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"greeter_http_requests_total{endpoint="/visits",method="POST",status="413",traffic="client"} 1"#
        ),
        "{metrics}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn metrics_port_serves_nothing_else() {
    let app = spawn_app(&[]).await;
    let response = app
        .client
        .get(format!("{}/", app.metrics_address))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(response, 404).await;
    app.stop().await;
}
