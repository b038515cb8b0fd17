//! SIGTERM: readiness fails at once, requests are served during the delay, in-flight requests
//! complete after the listener closes, exit 0.

use std::time::{Duration, Instant};

use crate::helpers::{BinaryApp, RedisServer};

#[test]
fn sigterm_sequence() {
    let redis = RedisServer::start();
    let mut env = vec![
        ("SHUTDOWN_DELAY_SECONDS", "2".to_string()),
        ("SHUTDOWN_TIMEOUT_SECONDS", "10".into()),
        // Long enough to outlast the stall, also for a worker that connects during it.
        ("REDIS_COMMAND_TIMEOUT_MS", "10000".into()),
        ("REDIS_CONNECT_TIMEOUT_MS", "10000".into()),
    ];
    env.extend(redis.env());
    let app = BinaryApp::start(&env);
    assert_eq!(app.blocking_get("/readyz").unwrap().status(), 200);

    // An in-flight request: Redis stalls for 4 s, longer than the shutdown delay.
    let stall = std::thread::spawn({
        let port = redis.port;
        move || crate::helpers::redis_command(port, "DEBUG SLEEP 4")
    });
    std::thread::sleep(Duration::from_millis(200));
    let in_flight = std::thread::spawn({
        let url = app.url("/visits");
        move || {
            reqwest::blocking::Client::new()
                .post(url)
                .timeout(Duration::from_secs(20))
                .send()
                .map(|r| r.status().as_u16())
        }
    });
    std::thread::sleep(Duration::from_millis(200));

    let signalled = Instant::now();
    app.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    let ready = app.blocking_get("/readyz").unwrap();
    assert_eq!(ready.status(), 503, "readiness fails at once");
    assert!(ready.text().unwrap().contains("shutting down"));
    assert_eq!(
        app.blocking_get("/healthz").unwrap().status(),
        200,
        "still alive while draining"
    );
    assert_eq!(
        app.blocking_get("/").unwrap().status(),
        200,
        "still serving during the delay"
    );

    // After the delay the listener is closed: new connections are refused.
    std::thread::sleep(Duration::from_millis(2300));
    assert!(
        app.blocking_get("/healthz").is_err(),
        "listener closed after the delay"
    );

    assert_eq!(
        in_flight
            .join()
            .unwrap()
            .expect("in-flight request completes"),
        200
    );
    stall.join().unwrap();
    let (code, logs) = app.wait(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{logs}");
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(2 + 10 + 2),
        "within the budget: {took:?}"
    );
    assert!(logs.contains("shutdown complete"));
}

#[test]
fn second_signal_skips_the_delay() {
    let app = BinaryApp::start(&[("SHUTDOWN_DELAY_SECONDS", "30".to_string())]);
    let signalled = Instant::now();
    app.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    app.signal(libc::SIGINT);
    let (code, _) = app.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(signalled.elapsed() < Duration::from_secs(10));
}
