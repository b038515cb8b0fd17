//! Hostile input, generated: schemathesis fuzzes the running binary from its own `/openapi.json`
//! (every check: no 5xx, statuses, content types, headers and bodies as documented, 405 + Allow
//! for undeclared methods, credentials enforced). Loopback only, bounded examples, fixed seed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{auth_env, BinaryApp, RedisServer, API_KEY};

/// Examples per operation: `DRILL_FUZZ_EXAMPLES` (scripts/drill raises it), 50 by default.
fn max_examples() -> String {
    std::env::var("DRILL_FUZZ_EXAMPLES").unwrap_or_else(|_| "50".into())
}

fn schemathesis() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/schemathesis");
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup (installs scripts/requirements.txt into .venv)",
        path.display()
    );
    path
}

fn run(schema: &str, base_url: &str, extra: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!(
        "greeter-schemathesis-{}-{}",
        std::process::id(),
        base_url.rsplit(':').next().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(schemathesis())
        .current_dir(&dir)
        .args(["--no-color", "run", schema, "--url", base_url])
        .args(["--checks", "all", "--max-examples", &max_examples()])
        .args(["--seed", "1", "--generation-database", "none"])
        .args(["--header", &format!("X-API-Key: {API_KEY}")])
        .args(["--request-timeout", "5"])
        .args(extra)
        .output()
        .expect("schemathesis runs");
    let _ = std::fs::remove_dir_all(&dir);
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn schemathesis_finds_no_5xx_and_no_schema_violation() {
    let _exclusive = crate::load::exclusive();
    let redis = RedisServer::start();
    let mut env = auth_env();
    env.extend(redis.env());
    let app = BinaryApp::start(&env);

    let output = run(&app.url("/openapi.json"), &app.url(""), &[]);
    let report = text(&output);
    assert!(output.status.success(), "schemathesis failed:\n{report}");
    let summary = report
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or_else(|| panic!("no summary line:\n{report}"));
    assert!(summary.contains("passed"), "{summary}");
    assert!(!app.logs().contains("panicked"));
    println!(
        "DRILL openapi-fuzz: max_examples={} {}",
        max_examples(),
        summary.trim()
    );
}

/// The fuzz is only worth something if a wrong description fails it: here the document claims
/// the visit count is a string.
#[test]
fn schemathesis_fails_when_a_body_drifts_from_the_description() {
    let _exclusive = crate::load::exclusive();
    let app = BinaryApp::start(&[]);
    let mut document: serde_json::Value = reqwest::blocking::get(app.url("/openapi.json"))
        .unwrap()
        .json()
        .unwrap();
    document["components"]["schemas"]["Visits"]["properties"]["visits"] =
        serde_json::json!({ "type": "string" });
    let schema = std::env::temp_dir().join(format!(
        "greeter-drifted-openapi-{}.json",
        std::process::id()
    ));
    std::fs::write(&schema, document.to_string()).unwrap();

    let output = run(
        schema.to_str().unwrap(),
        &app.url(""),
        &["--include-path", "/visits", "--include-method", "POST"],
    );
    let _ = std::fs::remove_file(&schema);
    let report = text(&output);
    assert!(!output.status.success(), "a drifted body passed:\n{report}");
    assert!(
        report.contains("Response violates schema"),
        "the failure names the body, not something else:\n{report}"
    );
}
