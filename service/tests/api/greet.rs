use chrono::{DateTime, Utc};

use crate::helpers::spawn_app;

#[actix_web::test]
async fn greets_with_message_and_time_in_the_configured_offset() {
    let app = spawn_app(&[
        ("GREETING", "Hello, test!".into()),
        ("TIMEZONE_OFFSET", "+05:30".into()),
    ])
    .await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Hello, test!");
    let time = DateTime::parse_from_rfc3339(body["time"].as_str().unwrap()).unwrap();
    assert_eq!(time.offset().local_minus_utc(), 5 * 3600 + 30 * 60);
    assert!((Utc::now() - time.with_timezone(&Utc)).num_seconds().abs() < 5);
    app.stop().await;
}

#[actix_web::test]
async fn fractional_and_negative_offsets() {
    for (offset, seconds) in [("-3", -3 * 3600), ("5.5", 19800), ("0", 0)] {
        let app = spawn_app(&[("TIMEZONE_OFFSET", offset.into())]).await;
        let body: serde_json::Value = app.get("/").await.json().await.unwrap();
        let time = DateTime::parse_from_rfc3339(body["time"].as_str().unwrap()).unwrap();
        assert_eq!(time.offset().local_minus_utc(), seconds, "{offset}");
        app.stop().await;
    }
}
