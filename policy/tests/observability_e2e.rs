//! End-to-end proof of every PromQL expression we ship, against the real service and a real
//! Prometheus on loopback: redis-server, target/debug/greeter and the Debian `prometheus` binary
//! with the recording and alerting rules exactly as observability/ renders them.
//!
//! Traffic: 200s, 401s (no key on /secret), 404s (no route), then 503s after Redis is killed.
//! Then, through the HTTP API: every rule evaluates without error and every recording rule has
//! series; every dashboard panel query returns data; the canary AnalysisTemplate queries return a
//! number and the success rate drops with the injected 503s; the Redis alerts go pending; no
//! expression names a metric or label that neither the service nor a listed external exporter has.
//! Missing tools fail the test with an install hint. Everything started is stopped by PID.

use policy::observability::loopback::{
    encode, free_port, request, send, wait_for, Process, WebhookSink,
};
use policy::observability::{self, promql};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Labels the ServiceMonitor would put on the greeter target (docs/metrics.md).
const NAMESPACE: &str = "greeter-dev";
const POD_TEMPLATE_HASH: &str = "5d8f7c9b6";
const POD: &str = "greeter-5d8f7c9b6-e2e01";
/// The nginx data plane NGINX Gateway Fabric provisions for Gateway greeter (class nginx).
const GATEWAY_POD: &str = "greeter-nginx-7c9d5b8f4-e2e01";
const API_KEY: &str = "e2e-only-api-key-0123456789";
/// Each traffic phase sends BATCHES batches of ROUNDS requests per kind, one scrape apart.
const BATCHES: usize = 4;
const ROUNDS: usize = 8;

#[test]
fn shipped_queries_work_against_the_real_service_and_prometheus() {
    let started = Instant::now();
    let work = TempDir::new("prometheus");
    let greeter_binary = build_greeter();

    let redis_port = free_port();
    let mut redis_command = Command::new("redis-server");
    redis_command
        .args([
            "--port",
            &redis_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(work.path())
        .stdout(Stdio::null());
    let mut redis = Process::start(
        "redis-server",
        redis_command,
        "install redis-server (Debian: scripts/setup)",
    );
    wait_for("redis-server to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", redis_port)).ok()
    });

    let (http_port, metrics_port) = (free_port(), free_port());
    let greeter_log = work.path().join("greeter.log");
    let mut greeter_command = Command::new(&greeter_binary);
    greeter_command
        .env_clear()
        .envs([
            ("HOST", "127.0.0.1".to_string()),
            ("PORT", http_port.to_string()),
            ("METRICS_PORT", metrics_port.to_string()),
            ("REDIS_HOST", "127.0.0.1".to_string()),
            ("REDIS_PORT", redis_port.to_string()),
            ("DUMMY_API_KEY", API_KEY.to_string()),
            ("SECRET_MESSAGE", "e2e secret".to_string()),
            ("LOG_FORMAT", "json".to_string()),
            ("WORKERS", "2".to_string()),
        ])
        .current_dir(work.path())
        .stdout(fs::File::create(&greeter_log).expect("create greeter.log"));
    let mut greeter = Process::start("greeter", greeter_command, "cargo build -p greeter");
    wait_for(
        "greeter /readyz to answer 200",
        Duration::from_secs(15),
        || {
            greeter.assert_running();
            request("GET", http_port, "/readyz", &[])
                .ok()
                .filter(|r| r.status == 200)
        },
    );

    let exporter = ExternalExporter::start();
    let prometheus = Prometheus::start(&work, metrics_port, exporter.port);

    // Phase 1: healthy traffic of every kind the SLOs and dashboards distinguish. In batches
    // across several scrapes: rate() sees no increase in a series' first sample.
    let (mut sent, mut failed) = (0, 0);
    for _ in 0..BATCHES {
        for _ in 0..ROUNDS {
            expect(http_port, "GET", "/", &[], 200);
            expect(http_port, "POST", "/visits", &[], 200);
            expect(http_port, "GET", "/visits", &[], 200);
            expect(http_port, "GET", "/secret", &[], 401);
            expect(http_port, "GET", "/secret", &[("X-API-Key", API_KEY)], 200);
            expect(http_port, "GET", "/no-such-route", &[], 404);
            sent += 6;
        }
        prometheus.wait_for_requests(sent);
    }
    let healthy_at = unix_now();

    // Phase 2: Redis dies; visits fail with 503 while the greeting still works.
    redis.stop();
    for _ in 0..BATCHES {
        for _ in 0..ROUNDS {
            expect(http_port, "POST", "/visits", &[], 503);
            expect(http_port, "GET", "/", &[], 200);
            sent += 2;
            failed += 1;
        }
        prometheus.wait_for_requests(sent);
    }
    prometheus.wait_for_value(
        &format!("namespace:greeter_slo_availability_errors:ratio_rate5m{{namespace=\"{NAMESPACE}\"}} > 0"),
        "the availability recording rule to see the 503s",
    );
    let objects = observability::rendered();
    let rules = observability::rules(&objects);

    let mut failures = Vec::new();
    check_rules(&prometheus, &rules, &mut failures);
    let dashboard_queries = check_dashboards(&prometheus, &objects, &mut failures);
    let analysis_queries = check_analysis(
        &prometheus,
        healthy_at,
        1.0 - failed as f64 / sent as f64,
        &mut failures,
    );
    check_redis_alerts(&prometheus, &mut failures);

    let mut expressions: Vec<(String, String)> = rules
        .iter()
        .map(|r| {
            (
                format!(
                    "rule {}",
                    r.record.clone().or(r.alert.clone()).unwrap_or_default()
                ),
                r.expr.clone(),
            )
        })
        .collect();
    expressions.extend(dashboard_queries);
    expressions.extend(analysis_queries);
    check_references(&prometheus, &rules, &expressions, &mut failures);

    greeter.assert_running();
    check_logs(&greeter_log, &objects, &mut failures);
    drop(prometheus);
    drop(greeter);
    drop(exporter);

    assert!(
        failures.is_empty(),
        "{} problems:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    // Reported, not asserted: its duration depends on the machine's load.
    let elapsed = started.elapsed();
    eprintln!(
        "observability end-to-end: {} expressions checked in {elapsed:?}",
        expressions.len()
    );
}

/// The Alertmanager config as the operator mounts it (Secret under /etc/alertmanager/secrets/,
/// template ConfigMap under /etc/alertmanager/configmaps/, here below a temp dir) in a real
/// Alertmanager: while a rollout is aborted its symptom alerts are inhibited in that namespace only,
/// a ticket-level burn is inhibited by the page-level one, and the page reaches the Slack webhook
/// with summary, description and runbook. kube-prometheus-stack's default alerts: Watchdog and
/// InfoInhibitor reach the null receiver, critical pages and mutes the warning of the same name,
/// info is muted where InfoInhibitor fires and heard where it does not.
#[test]
fn alertmanager_inhibits_during_an_abort_and_pages_slack() {
    let work = TempDir::new("alertmanager");
    let objects = observability::rendered();
    let raw = observability::config_map_data(
        &objects,
        "alertmanager-greeter-config",
        "alertmanager.yaml",
    );
    let template =
        observability::config_map_data(&objects, "alertmanager-greeter-templates", "greeter.tmpl");
    let slack = WebhookSink::start();

    let mounts = work.path().display().to_string();
    let config = raw.replace("/etc/alertmanager/", &format!("{mounts}/"));
    let webhook_file = policy::parse_documents(&config).expect("config is YAML")[0]["global"]
        ["slack_api_url_file"]
        .as_str()
        .expect("global.slack_api_url_file")
        .to_string();
    fs::create_dir_all(Path::new(&webhook_file).parent().expect("secret dir")).expect("secret dir");
    fs::write(
        &webhook_file,
        format!("http://127.0.0.1:{}/services/e2e", slack.port),
    )
    .expect("webhook file");
    let templates = work
        .path()
        .join("configmaps/alertmanager-greeter-templates");
    fs::create_dir_all(&templates).expect("template dir");
    fs::write(templates.join("greeter.tmpl"), template).expect("template");
    let config_path = work.path().join("alertmanager.yaml");
    fs::write(&config_path, config).expect("config");

    let port = free_port();
    let mut command = Command::new("prometheus-alertmanager");
    command
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.path={}",
            work.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .stdout(Stdio::null());
    let mut alertmanager = Process::start(
        "prometheus-alertmanager",
        command,
        "install the Debian package prometheus-alertmanager (scripts/setup)",
    );
    wait_for("alertmanager to be ready", Duration::from_secs(20), || {
        alertmanager.assert_running();
        request("GET", port, "/-/ready", &[])
            .ok()
            .filter(|r| r.status == 200)
    });

    let runbook = format!(
        "{}greeter-availability-budget-burn.md",
        observability::RUNBOOK_URL_PREFIX
    );
    let alert = |labels: Value| {
        json!({
            "labels": labels,
            "annotations": {
                "summary": format!("e2e {}", labels["alertname"].as_str().unwrap_or_default()),
                "description": "e2e description with a value of 20.0",
                "runbook_url": runbook,
            },
        })
    };
    let alerts = json!([
        alert(
            json!({"alertname": "GreeterRolloutAborted", "severity": "ticket", "namespace": "greeter-prod", "name": "greeter"})
        ),
        alert(
            json!({"alertname": "GreeterPodNotReady", "severity": "ticket", "namespace": "greeter-prod", "pod": "canary-pod"})
        ),
        alert(
            json!({"alertname": "GreeterPodNotReady", "severity": "ticket", "namespace": "greeter-staging", "pod": "other-pod"})
        ),
        alert(
            json!({"alertname": "GreeterAvailabilityBudgetBurn", "severity": "page", "namespace": "greeter-prod",
                     "slo": "availability", "long_window": "1h", "short_window": "5m"})
        ),
        alert(
            json!({"alertname": "GreeterAvailabilityBudgetBurn", "severity": "ticket", "namespace": "greeter-prod",
                     "slo": "availability", "long_window": "1d", "short_window": "2h"})
        ),
        // No abort in staging: the page alone inhibits the ticket about the same budget.
        alert(
            json!({"alertname": "GreeterLatencyBudgetBurn", "severity": "page", "namespace": "greeter-staging",
                     "slo": "latency", "long_window": "6h", "short_window": "30m"})
        ),
        alert(
            json!({"alertname": "GreeterLatencyBudgetBurn", "severity": "ticket", "namespace": "greeter-staging",
                     "slo": "latency", "long_window": "3d", "short_window": "6h"})
        ),
        // Redis down explains the visit store errors.
        alert(
            json!({"alertname": "GreeterRedisDown", "severity": "page", "namespace": "greeter-dev"})
        ),
        alert(
            json!({"alertname": "GreeterVisitStoreErrors", "severity": "ticket", "namespace": "greeter-dev"})
        ),
        // kube-prometheus-stack's default rules. In monitoring only info alerts fire, so
        // Prometheus fires InfoInhibitor there; in kube-system a warning fires, so it does not.
        alert(json!({"alertname": "Watchdog", "severity": "none"})),
        alert(json!({"alertname": "InfoInhibitor", "severity": "none", "namespace": "monitoring"})),
        alert(
            json!({"alertname": "CPUThrottlingHigh", "severity": "info", "namespace": "monitoring", "pod": "throttled-pod"})
        ),
        alert(
            json!({"alertname": "CPUThrottlingHigh", "severity": "info", "namespace": "kube-system", "pod": "throttled-pod"})
        ),
        alert(
            json!({"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "kube-system", "pod": "crashing-pod"})
        ),
        alert(
            json!({"alertname": "KubePersistentVolumeFillingUp", "severity": "critical", "namespace": "monitoring",
                     "persistentvolumeclaim": "prometheus-db"})
        ),
        alert(
            json!({"alertname": "KubePersistentVolumeFillingUp", "severity": "warning", "namespace": "monitoring",
                     "persistentvolumeclaim": "prometheus-db"})
        ),
    ]);
    let posted = send(
        "POST",
        port,
        "/api/v2/alerts",
        &[("Content-Type", "application/json")],
        &alerts.to_string(),
    )
    .expect("post alerts");
    assert_eq!(posted.status, 200, "{}", posted.body);

    // "alertname namespace severity label -> receivers", "(inhibited)" when muted; "-": no value.
    let expected = [
        "GreeterRolloutAborted greeter-prod ticket greeter -> slack-tickets",
        "GreeterPodNotReady greeter-prod ticket canary-pod -> slack-tickets (inhibited)",
        "GreeterPodNotReady greeter-staging ticket other-pod -> slack-tickets",
        "GreeterAvailabilityBudgetBurn greeter-prod page 1h -> slack-pages",
        "GreeterAvailabilityBudgetBurn greeter-prod ticket 1d -> slack-tickets (inhibited)",
        "GreeterLatencyBudgetBurn greeter-staging page 6h -> slack-pages",
        "GreeterLatencyBudgetBurn greeter-staging ticket 3d -> slack-tickets (inhibited)",
        "GreeterRedisDown greeter-dev page - -> slack-pages",
        "GreeterVisitStoreErrors greeter-dev ticket - -> slack-tickets (inhibited)",
        "Watchdog - none - -> null",
        "InfoInhibitor monitoring none - -> null",
        "CPUThrottlingHigh monitoring info throttled-pod -> slack-tickets (inhibited)",
        "CPUThrottlingHigh kube-system info throttled-pod -> slack-tickets",
        "KubePodCrashLooping kube-system warning crashing-pod -> slack-tickets",
        "KubePersistentVolumeFillingUp monitoring critical - -> slack-pages",
        "KubePersistentVolumeFillingUp monitoring warning - -> slack-tickets (inhibited)",
    ];
    let observed = || -> Vec<String> {
        let response = request("GET", port, "/api/v2/alerts", &[]).expect("get alerts");
        let alerts: Value = serde_json::from_str(&response.body).expect("alerts JSON");
        let mut rows: Vec<_> = alerts
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let l = &a["labels"];
                fn text(v: &Value) -> &str {
                    v.as_str().filter(|t| !t.is_empty()).unwrap_or("-")
                }
                let extra = ["name", "pod", "long_window"]
                    .iter()
                    .find_map(|k| l[*k].as_str())
                    .unwrap_or("-");
                let receivers: Vec<&str> = a["receivers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| text(&r["name"]))
                    .collect();
                let inhibited = a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty());
                format!(
                    "{} {} {} {extra} -> {}{}",
                    text(&l["alertname"]),
                    text(&l["namespace"]),
                    text(&l["severity"]),
                    receivers.join(","),
                    if inhibited { " (inhibited)" } else { "" }
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let mut want: Vec<String> = expected.iter().map(|row| row.to_string()).collect();
    want.sort();
    // The inhibitor reads alerts asynchronously: poll, then compare (the diff shows what differs).
    let deadline = Instant::now() + Duration::from_secs(10);
    let settled = loop {
        let rows = observed();
        if rows == want || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(settled, want);

    // Pages wait group_wait (10 s) and then reach Slack's webhook.
    let message: Value = wait_for(
        "the page to reach the Slack webhook",
        Duration::from_secs(30),
        || {
            slack
                .bodies()
                .iter()
                .filter_map(|b| serde_json::from_str::<Value>(b).ok())
                .find(|m| {
                    m["channel"] == "#greeter-pages"
                        && m["attachments"][0]["title"]
                            .as_str()
                            .is_some_and(|t| t.contains("GreeterAvailabilityBudgetBurn"))
                })
        },
    );
    let attachment = &message["attachments"][0];
    let title = attachment["title"].as_str().unwrap_or_default();
    let text = attachment["text"].as_str().unwrap_or_default();
    assert!(
        title.contains("GreeterAvailabilityBudgetBurn in greeter-prod (page)"),
        "title: {title}"
    );
    assert_eq!(attachment["title_link"], json!(runbook));
    for part in [
        "*e2e GreeterAvailabilityBudgetBurn*",
        "e2e description with a value of 20.0",
        runbook.as_str(),
    ] {
        assert!(text.contains(part), "Slack text lacks {part:?}: {text}");
    }
    alertmanager.assert_running();
}

/// Every rule evaluates without error on real data and every recording rule yields series.
fn check_rules(prometheus: &Prometheus, rules: &[observability::Rule], failures: &mut Vec<String>) {
    let groups = prometheus.api("/api/v1/rules");
    let loaded: Vec<&Value> = groups["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect();
    if loaded.len() != rules.len() {
        failures.push(format!(
            "Prometheus loaded {} rules, observability/ ships {}",
            loaded.len(),
            rules.len()
        ));
    }
    for rule in &loaded {
        if rule["health"] != "ok" {
            failures.push(format!(
                "rule {} is {}: {}",
                rule["name"], rule["health"], rule["lastError"]
            ));
        }
    }
    for record in rules.iter().filter_map(|r| r.record.as_deref()) {
        if prometheus.query(record, None).is_empty() {
            failures.push(format!("recording rule {record} has no series"));
        }
    }
}

/// Every panel query of every dashboard returns data, with the dashboard variables set as
/// Grafana would for the e2e namespace. Returns the substituted queries.
fn check_dashboards(
    prometheus: &Prometheus,
    objects: &[Value],
    failures: &mut Vec<String>,
) -> Vec<(String, String)> {
    let dashboards = observability::dashboards(objects);
    assert!(!dashboards.is_empty(), "observability/ ships no dashboards");
    let mut queries = Vec::new();
    for dashboard in &dashboards {
        for query in observability::panel_queries(&dashboard.json) {
            let expr = observability::substitute_variables(
                &query.expr,
                &[("namespace", NAMESPACE), ("__rate_interval", "1m")],
            );
            let name = format!("dashboard {:?} panel {:?}", query.dashboard, query.panel);
            if prometheus.query(&expr, None).is_empty() {
                failures.push(format!("{name} returns no data: {expr}"));
            }
            queries.push((name, expr));
        }
    }
    queries
}

/// The canary AnalysisTemplate's queries, with the args Argo Rollouts passes for a canary whose
/// pods carry our pod template hash, return one number each; the success rate is 1 before Redis
/// died and then drops to about the share of non-5xx answers sent (`sent_success`).
fn check_analysis(
    prometheus: &Prometheus,
    healthy_at: f64,
    sent_success: f64,
    failures: &mut Vec<String>,
) -> Vec<(String, String)> {
    let args = [
        ("namespace", NAMESPACE),
        ("canary-hash", POD_TEMPLATE_HASH),
        (
            "prometheus-address",
            "http://prometheus-operated.monitoring.svc:9090",
        ),
    ];
    let mut queries = Vec::new();
    for (metric, template) in observability::analysis_queries("dev") {
        let expr = observability::substitute_args(&template, &args);
        let name = format!("AnalysisTemplate metric {metric}");
        let healthy = single_number(&prometheus.query(&expr, Some(healthy_at)));
        let now = single_number(&prometheus.query(&expr, None));
        eprintln!("AnalysisTemplate {metric}: {healthy:?} before Redis was killed, {now:?} after");
        match (healthy, now) {
            (Some(healthy), Some(now)) if metric.contains("success") => {
                // rate() extrapolates at the window's edges: close to what was sent, not equal.
                if healthy != 1.0 || now >= 1.0 || (now - sent_success).abs() > 0.1 {
                    failures.push(format!(
                        "{name}: success rate {healthy} before and {now} after the 503s \
                         (want 1, then about {sent_success:.3} as sent)"
                    ));
                }
            }
            (Some(_), Some(_)) => {}
            _ => failures.push(format!("{name} did not return one number ({healthy:?} healthy, {now:?} after 503s): {expr}")),
        }
        queries.push((name, expr));
    }
    assert!(!queries.is_empty(), "the AnalysisTemplate has no metrics");
    queries
}

/// The cause alerts see the real outage: Redis down and visit store errors go pending or firing.
fn check_redis_alerts(prometheus: &Prometheus, failures: &mut Vec<String>) {
    let alerts = prometheus.api("/api/v1/alerts");
    for name in ["GreeterRedisDown", "GreeterVisitStoreErrors"] {
        let active = alerts["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["labels"]["alertname"] == name && a["labels"]["namespace"] == NAMESPACE);
        if !active {
            failures.push(format!(
                "alert {name} is not pending or firing after Redis was killed"
            ));
        }
    }
}

/// No expression refers to a metric that neither the service, a recording rule nor a listed
/// external exporter provides, nor matches or groups by a label those series do not carry.
fn check_references(
    prometheus: &Prometheus,
    rules: &[observability::Rule],
    expressions: &[(String, String)],
    failures: &mut Vec<String>,
) {
    let names = |job: &str| -> BTreeSet<String> {
        prometheus
            .query(&format!("group by (__name__) ({{job=\"{job}\"}})"), None)
            .iter()
            .map(|s| {
                s["metric"]["__name__"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let service = names("greeter");
    let external: BTreeSet<String> = ExternalExporter::JOBS
        .iter()
        .flat_map(|job| names(job))
        .collect();
    let recorded: BTreeSet<String> = rules.iter().filter_map(|r| r.record.clone()).collect();
    assert!(
        service.contains("greeter_http_requests_total"),
        "the greeter target was not scraped"
    );
    let mut labels_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, expr) in expressions {
        let refs = promql::references(expr);
        let mut in_scope = BTreeSet::new();
        for selector in &refs.selectors {
            let Some(metric) = &selector.metric else {
                continue;
            };
            if !(service.contains(metric) || external.contains(metric) || recorded.contains(metric))
            {
                failures.push(format!(
                    "{name} uses {metric}, which neither the service nor a listed exporter emits"
                ));
                continue;
            }
            let labels = labels_of
                .entry(metric.clone())
                .or_insert_with(|| prometheus.label_names(metric));
            for label in &selector.labels {
                if label != "__name__" && !labels.contains(label) {
                    failures.push(format!(
                        "{name} matches label {label} that {metric} does not carry"
                    ));
                }
            }
            in_scope.extend(labels.iter().cloned());
        }
        for label in &refs.grouping_labels {
            if !in_scope.contains(label) {
                failures.push(format!(
                    "{name} groups or joins by label {label} that none of its metrics carry"
                ));
            }
        }
    }
}

/// The log shipper parses fields the service really writes: every JSON field it reads appears in
/// the service's request logs.
fn check_logs(log: &Path, objects: &[Value], failures: &mut Vec<String>) {
    let text = fs::read_to_string(log).expect("read greeter.log");
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if lines.is_empty() {
        failures.push("the service wrote no JSON log lines".to_string());
        return;
    }
    for field in observability::shipped_log_fields(objects) {
        if !lines
            .iter()
            .any(|l| l.get(&field).is_some_and(|v| !v.is_null()))
        {
            failures.push(format!(
                "the log shipper reads JSON field {field:?}, which no service log line has"
            ));
        }
    }
}

fn single_number(result: &[Value]) -> Option<f64> {
    match result {
        [sample] => sample["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite()),
        _ => None,
    }
}

fn expect(port: u16, method: &str, path: &str, headers: &[(&str, &str)], status: u16) {
    let response =
        request(method, port, path, headers).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert_eq!(
        response.status, status,
        "{method} {path} answered {}: {}",
        response.status, response.body
    );
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Builds the service binary (a no-op when cargo test already built it) and returns its path.
fn build_greeter() -> PathBuf {
    let root = policy::repo_root();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--locked", "-p", "greeter"])
        .current_dir(&root)
        .status()
        .expect("run cargo build -p greeter");
    assert!(status.success(), "cargo build -p greeter failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("debug/greeter")
}

/// A real Prometheus on loopback with the shipped rules, scraping the greeter like the
/// ServiceMonitor would (same target labels) and the external exporter stand-ins.
struct Prometheus {
    port: u16,
    _process: Process,
}

impl Prometheus {
    fn start(work: &TempDir, metrics_port: u16, exporter_port: u16) -> Prometheus {
        let objects = observability::rendered();
        let mut rule_files = Vec::new();
        for (name, spec) in observability::rule_files(&objects) {
            let path = work.path().join(format!("{name}.rules.yaml"));
            fs::write(&path, spec).expect("write rule file");
            rule_files.push(format!("  - {}", path.display()));
        }
        let config = format!(
            r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
{rules}
scrape_configs:
  - job_name: greeter-podmonitor
    static_configs:
      - targets: ["127.0.0.1:{metrics_port}"]
        labels:
          namespace: {NAMESPACE}
          pod: {POD}
          container: greeter
          service: greeter-metrics
          rollouts_pod_template_hash: "{POD_TEMPLATE_HASH}"
    relabel_configs:
      # The ServiceMonitor's jobLabel (app.kubernetes.io/name) names the job "greeter".
      - target_label: job
        replacement: greeter
  - job_name: kube-state-metrics
    honor_labels: true
    metrics_path: /kube-state-metrics
    static_configs:
      - targets: ["127.0.0.1:{exporter_port}"]
  - job_name: controllers
    metrics_path: /controllers
    static_configs:
      - targets: ["127.0.0.1:{exporter_port}"]
        labels:
          namespace: argo-rollouts
  # The environment's gateway data plane, as the nginx-gateway-data-planes PodMonitor scrapes it
  # (jobLabel app.kubernetes.io/name: <gateway>-<class>).
  - job_name: greeter-nginx
    metrics_path: /gateway
    static_configs:
      - targets: ["127.0.0.1:{exporter_port}"]
        labels:
          namespace: {NAMESPACE}
          pod: {GATEWAY_POD}
          container: nginx
"#,
            rules = rule_files.join("\n"),
        );
        let config_path = work.path().join("prometheus.yml");
        fs::write(&config_path, config).expect("write prometheus.yml");
        let port = free_port();
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null());
        let mut process = Process::start(
            "prometheus",
            command,
            "install the Debian package prometheus (scripts/setup)",
        );
        wait_for("prometheus to be ready", Duration::from_secs(20), || {
            process.assert_running();
            request("GET", port, "/-/ready", &[])
                .ok()
                .filter(|r| r.status == 200)
        });
        Prometheus {
            port,
            _process: process,
        }
    }

    fn api(&self, path: &str) -> Value {
        let response =
            request("GET", self.port, path, &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let body: Value = serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("{path}: {e}: {}", response.body));
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["data"].clone()
    }

    /// Instant query (at `time`, default now); the result vector. An invalid query panics.
    fn query(&self, expr: &str, time: Option<f64>) -> Vec<Value> {
        let at = time.map(|t| format!("&time={t:.3}")).unwrap_or_default();
        let data = self.api(&format!("/api/v1/query?query={}{at}", encode(expr)));
        match &data["result"] {
            Value::Array(samples) => samples.clone(),
            Value::Null => Vec::new(),
            scalar => vec![serde_json::json!({ "metric": {}, "value": scalar })],
        }
    }

    fn label_names(&self, metric: &str) -> BTreeSet<String> {
        let series = self.api(&format!("/api/v1/series?match[]={}", encode(metric)));
        series
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s.as_object().into_iter().flatten().map(|(k, _)| k.clone()))
            .collect()
    }

    /// Waits until the last scrape counted exactly `sent` requests from the greeter target.
    fn wait_for_requests(&self, sent: usize) {
        let expr = format!("sum(greeter_http_requests_total{{namespace=\"{NAMESPACE}\"}})");
        wait_for(
            &format!("Prometheus to scrape {sent} requests"),
            Duration::from_secs(20),
            || single_number(&self.query(&expr, None)).filter(|n| *n as usize == sent),
        );
    }

    fn wait_for_value(&self, expr: &str, what: &str) {
        wait_for(what, Duration::from_secs(20), || {
            Some(()).filter(|_| !self.query(expr, None).is_empty())
        });
    }
}

/// Stand-ins for the exporters whose metrics our rules and dashboards use but the service does
/// not emit (kube-state-metrics, cAdvisor via the kubelet, the Argo Rollouts and cert-manager
/// controllers, the gateway's nginx-agent). Names and label sets follow those projects' sources;
/// these are the only metrics outside the service that an expression may use.
struct ExternalExporter {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ExternalExporter {
    const JOBS: [&'static str; 3] = ["kube-state-metrics", "controllers", "greeter-nginx"];

    fn start() -> ExternalExporter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind exporter");
        listener
            .set_nonblocking(true)
            .expect("nonblocking exporter");
        let port = listener.local_addr().expect("exporter address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let mut buf = [0u8; 4096];
                        let n = conn.read(&mut buf).unwrap_or(0);
                        let head = String::from_utf8_lossy(&buf[..n]);
                        let uptime = started.elapsed().as_secs_f64();
                        let body = if head.starts_with("GET /kube-state-metrics") {
                            kube_state_metrics(uptime)
                        } else if head.starts_with("GET /gateway") {
                            gateway(uptime)
                        } else {
                            controllers(unix_now())
                        };
                        let _ = conn.write_all(
                            format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\r\n{body}").as_bytes(),
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        ExternalExporter {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ExternalExporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// kube-state-metrics and cAdvisor series of the e2e pod (scraped with honor_labels, like
/// kube-prometheus-stack does for kube-state-metrics).
fn kube_state_metrics(uptime: f64) -> String {
    let pod = format!(r#"namespace="{NAMESPACE}",pod="{POD}""#);
    let container = format!(r#"{pod},container="greeter""#);
    format!(
        r#"kube_pod_status_ready{{{pod},uid="e2e",condition="true"}} 1
kube_pod_status_ready{{{pod},uid="e2e",condition="false"}} 0
kube_pod_status_ready{{{pod},uid="e2e",condition="unknown"}} 0
kube_pod_container_status_waiting_reason{{{container},uid="e2e",reason="CrashLoopBackOff"}} 0
kube_pod_container_status_restarts_total{{{container},uid="e2e"}} 0
kube_pod_container_resource_requests{{{container},uid="e2e",node="e2e",resource="cpu",unit="core"}} 0.05
kube_pod_container_resource_limits{{{container},uid="e2e",node="e2e",resource="cpu",unit="core"}} 0.5
kube_pod_container_resource_limits{{{container},uid="e2e",node="e2e",resource="memory",unit="byte"}} 134217728
container_cpu_usage_seconds_total{{{container},id="/kubepods/e2e",image="ghcr.io/greeter-gitops/greeter",name="e2e",cpu="total"}} {cpu}
container_memory_working_set_bytes{{{container},id="/kubepods/e2e",image="ghcr.io/greeter-gitops/greeter",name="e2e"}} 20971520
kube_endpointslice_info{{namespace="{NAMESPACE}",endpointslice="greeter-stable-e2e01",addresstype="IPv4"}} 1
kube_endpointslice_info{{namespace="{NAMESPACE}",endpointslice="greeter-canary-e2e01",addresstype="IPv4"}} 1
kube_endpointslice_endpoints{{{slice}="greeter-stable-e2e01"}} 1
kube_endpointslice_endpoints{{{slice}="greeter-canary-e2e01"}} 1
"#,
        cpu = uptime * 0.01,
        slice = format!(
            r#"namespace="{NAMESPACE}",ready="true",serving="true",terminating="",hostname="",targetref_kind="Pod",targetref_name="{POD}",targetref_namespace="{NAMESPACE}",endpoint_nodename="e2e",endpoint_zone="",address="127.0.0.1",endpointslice"#
        ),
    )
}

/// The gateway's data plane: nginx-agent v3.11.2's stub_status metrics (internal/collector/
/// nginxreceiver/metadata.yaml `nginx.http.requests`, `nginx.http.connections`) as its Prometheus
/// exporter names them (OTel naming with suffixes: `_total` for monotonic sums, resource attributes
/// as labels, resource_to_telemetry_conversion in internal/collector/otelcol.tmpl).
fn gateway(uptime: f64) -> String {
    let labels =
        r#"instance_id="e2e-nginx",instance_type="nginx",otel_scope_name="otelcol/nginxreceiver""#;
    format!(
        r#"# TYPE nginx_http_requests_total counter
nginx_http_requests_total{{{labels}}} {requests}
# TYPE nginx_http_connections_total counter
nginx_http_connections_total{{{labels},nginx_connections_outcome="ACCEPTED"}} {connections}
nginx_http_connections_total{{{labels},nginx_connections_outcome="HANDLED"}} {connections}
"#,
        requests = (uptime * 20.0).round(),
        connections = (uptime * 5.0).round(),
    )
}

/// Argo Rollouts and cert-manager controller series about objects in the e2e namespace; scraped
/// without honor_labels, so their namespace label arrives as exported_namespace, as in a cluster.
fn controllers(now: f64) -> String {
    let ns = format!(r#"namespace="{NAMESPACE}""#);
    let run = format!(r#"{ns},name="greeter-{POD_TEMPLATE_HASH}-2-1""#);
    format!(
        r#"rollout_info{{{ns},name="greeter",strategy="canary",traffic_router="",phase="Healthy"}} 1
analysis_run_metric_phase{{{run},metric="success-rate",type="Prometheus",phase="Successful"}} 1
analysis_run_metric_phase{{{run},metric="success-rate",type="Prometheus",phase="Failed"}} 0
analysis_run_metric_phase{{{run},metric="success-rate",type="Prometheus",phase="Error"}} 0
certmanager_certificate_expiration_timestamp_seconds{{{ns},name="greeter-tls",issuer_name="letsencrypt-staging",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"}} {expiry}
certmanager_certificate_ready_status{{{ns},name="greeter-tls",condition="True",issuer_name="letsencrypt-staging",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"}} 1
certmanager_certificate_ready_status{{{ns},name="greeter-tls",condition="False",issuer_name="letsencrypt-staging",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"}} 0
certmanager_certificate_ready_status{{{ns},name="greeter-tls",condition="Unknown",issuer_name="letsencrypt-staging",issuer_kind="ClusterIssuer",issuer_group="cert-manager.io"}} 0
"#,
        expiry = (now + 60.0 * 86400.0).round(),
    )
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "greeter-observability-e2e-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
