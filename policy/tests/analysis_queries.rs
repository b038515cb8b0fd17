//! The canary gate's Prometheus queries (deploy/base/analysistemplate.yaml), evaluated by
//! Prometheus's own engine (`promtool test rules`) on series shaped like the greeter's: what each
//! kind of canary measures, and so which verdict the template's conditions give it (a number on
//! the wrong side of the threshold fails, no number is inconclusive). The game days
//! (e2e/gamedays) run the same template on the real controller; this is the fast, exhaustive part.

use policy::deploy::{Env, ANALYSIS_TEMPLATE};
use policy::objects::find;
use policy::render;
use serde_json::{json, Value};
use std::process::Command;

const NAMESPACE: &str = "greeter-prod";
const CANARY: &str = "canary1";
const STABLE: &str = "stable1";

/// The template's query of one metric, with the args an AnalysisRun of the canary would resolve.
fn query(metric: &str) -> String {
    let objs = render(&Env::Prod.overlay());
    let template = find(&objs, "AnalysisTemplate", ANALYSIS_TEMPLATE).expect("template rendered");
    let metrics = template["spec"]["metrics"].as_array().expect("metrics");
    let m = metrics
        .iter()
        .find(|m| m["name"] == metric)
        .unwrap_or_else(|| panic!("metric {metric}"));
    m.pointer("/provider/prometheus/query")
        .and_then(Value::as_str)
        .expect("query")
        .replace("{{args.namespace}}", NAMESPACE)
        .replace("{{args.canary-hash}}", CANARY)
}

/// A counter of requests, growing by `per_scrape` every 15 s scrape for two minutes.
fn requests(hash: &str, endpoint: &str, status: &str, per_scrape: u32) -> Value {
    json!({
        "series": format!(
            "greeter_http_requests_total{{namespace=\"{NAMESPACE}\",rollouts_pod_template_hash=\"{hash}\",endpoint=\"{endpoint}\",method=\"GET\",status=\"{status}\",traffic=\"synthetic\"}}"
        ),
        "values": format!("0+{per_scrape}x8"),
    })
}

/// Latency buckets of the canary: `fast` requests per scrape under 25 ms, `slow` ones near 400 ms.
fn latency(fast: u32, slow: u32) -> Vec<Value> {
    let buckets = [
        ("0.025", fast),
        ("0.25", fast),
        ("0.5", fast + slow),
        ("+Inf", fast + slow),
    ];
    buckets
        .iter()
        .map(|(le, per_scrape)| {
            json!({
                "series": format!(
                    "greeter_http_requests_duration_seconds_bucket{{namespace=\"{NAMESPACE}\",rollouts_pod_template_hash=\"{CANARY}\",endpoint=\"/\",method=\"GET\",le=\"{le}\"}}"
                ),
                "values": format!("0+{per_scrape}x8"),
            })
        })
        .collect()
}

/// Evaluates `expr` at 2 minutes over the series; `expected` is the single value it must give, or
/// None for no result at all.
fn evaluate(expr: &str, series: Vec<Value>, expected: Option<f64>) -> Result<(), String> {
    let samples = match expected {
        Some(value) => json!([{"labels": "{}", "value": value}]),
        None => json!([]),
    };
    let test = json!({
        "rule_files": [],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            "input_series": series,
            "promql_expr_test": [{"expr": expr, "eval_time": "2m", "exp_samples": samples}],
        }],
    });
    let file = std::env::temp_dir().join(format!(
        "policy-analysis-queries-{}-{:?}.json",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&file, test.to_string()).expect("write the test file");
    let output = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool (install Debian package prometheus, or run scripts/setup): {e}")
        });
    let _ = std::fs::remove_file(&file);
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[track_caller]
fn assert_measures(metric: &str, series: Vec<Value>, expected: Option<f64>) {
    if let Err(e) = evaluate(&query(metric), series, expected) {
        panic!("{metric}: expected {expected:?}:\n{e}");
    }
}

#[test]
fn a_healthy_canary_measures_a_success_rate_of_one() {
    assert_measures(
        "success-rate",
        vec![requests(CANARY, "/", "200", 30)],
        Some(1.0),
    );
}

#[test]
fn a_canary_failing_every_request_measures_zero_not_nothing() {
    // Audit D2: no non-5xx series at all. Without the numerator's fallback this is empty, which
    // the conditions read as Inconclusive (a pause) instead of Failed (an abort).
    assert_measures(
        "success-rate",
        vec![requests(CANARY, "/", "500", 30)],
        Some(0.0),
    );
}

#[test]
fn a_canary_failing_some_requests_measures_their_share() {
    assert_measures(
        "success-rate",
        vec![
            requests(CANARY, "/", "200", 18),
            requests(CANARY, "/visits", "503", 12),
        ],
        Some(0.6),
    );
}

#[test]
fn the_stable_pods_failures_do_not_count() {
    assert_measures(
        "success-rate",
        vec![
            requests(CANARY, "/", "200", 30),
            requests(STABLE, "/", "500", 30),
        ],
        Some(1.0),
    );
}

#[test]
fn too_little_traffic_or_only_unknown_paths_measure_nothing() {
    // 4 requests a minute: under the floor of 20.
    assert_measures("success-rate", vec![requests(CANARY, "/", "200", 1)], None);
    let mut series = latency(1, 0);
    series.push(requests(CANARY, "/", "200", 1));
    assert_measures("latency-p95", series, None);
    // Scanners: no route, not a product request.
    assert_measures(
        "success-rate",
        vec![requests(CANARY, "UNKNOWN", "404", 30)],
        None,
    );
    assert_measures("success-rate", vec![], None);
}

#[test]
fn a_slow_canary_measures_its_p95_above_the_threshold() {
    let mut series = latency(18, 12);
    series.push(requests(CANARY, "/", "200", 30));
    let p95 = 0.25 + (0.5 - 0.25) * (0.95 * 30.0 - 18.0) / 12.0;
    assert_measures("latency-p95", series, Some(p95));
    let mut series = latency(30, 0);
    series.push(requests(CANARY, "/", "200", 30));
    assert_measures("latency-p95", series, Some(0.02375));
}
