//! Every error body is RFC 9457 problem+json; hostile input gets a 4xx.

use crate::helpers::{assert_problem, spawn_app};

#[actix_web::test]
async fn unknown_paths_and_methods() {
    let app = spawn_app(&[]).await;
    assert_problem(app.get("/does-not-exist").await, 404).await;
    assert_problem(app.get("/metrics").await, 404).await;
    assert_problem(app.get("/../../etc/passwd").await, 404).await;
    assert_problem(app.get("/%2e%2e/%2e%2e/etc/passwd").await, 404).await;
    assert_problem(app.get("/%ff%fe").await, 404).await;

    let delete = app
        .client
        .delete(format!("{}/visits", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.headers()["allow"], "GET, POST");
    assert_problem(delete, 405).await;
    let post = app.post("/").await;
    assert_eq!(post.headers()["allow"], "GET");
    assert_problem(post, 405).await;
    let put = app
        .client
        .put(format!("{}/secret", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(put.headers()["allow"], "GET");
    assert_problem(put, 405).await;
    app.stop().await;
}

#[actix_web::test]
async fn oversized_body_is_413() {
    let app = spawn_app(&[("REQUEST_BODY_LIMIT_BYTES", "1024".into())]).await;
    let response = app
        .client
        .post(format!("{}/visits", app.address))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_problem(response, 413).await;
    let json = app
        .client
        .post(format!("{}/visits", app.address))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json.status(),
        200,
        "a small JSON body is accepted (and ignored)"
    );
    for garbage in [b"{\"a\":".to_vec(), vec![0xff, 0xfe, 0xfd], vec![b'x'; 100]] {
        let response = app
            .client
            .post(format!("{}/visits", app.address))
            .body(garbage)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
    }
    // Chunked (no Content-Length) bodies are bounded too.
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let chunked = app
        .client
        .post(format!("{}/visits", app.address))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_problem(chunked, 413).await;
    app.stop().await;
}

#[actix_web::test]
async fn oversized_headers_are_431() {
    let app = spawn_app(&[]).await;
    let response = app
        .client
        .get(format!("{}/", app.address))
        .header("X-Huge", "x".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_problem(response, 431).await;
    // Far larger heads are cut off by actix's parser (an error status or a closed connection).
    if let Ok(response) = app
        .client
        .get(format!("{}/", app.address))
        .header("X-Huge", "x".repeat(1024 * 1024))
        .send()
        .await
    {
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    // A fresh connection: the server may have closed the one the huge head arrived on.
    let fresh = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200, "still serving");
    app.stop().await;
}
