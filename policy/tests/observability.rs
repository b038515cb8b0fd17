//! Integrity of observability/: alerts and runbooks, promtool coverage, dashboards, Alertmanager
//! routing (amtool), the trace collector and the log→trace link. Every check runs on the real tree
//! (no problems) and on a broken copy (the expected problem), so none of them can pass vacuously.

use policy::observability::platform_alerts::{self, PlatformAlert};
use policy::observability::{self, checks, network, Rule};
use policy::{parse_documents, repo_root};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn objects() -> Vec<Value> {
    observability::rendered()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("observability/ renders no {kind} {name}"))
}

fn runbooks() -> PathBuf {
    repo_root().join("docs/runbooks")
}

fn promtool_tests() -> Vec<Value> {
    let dir = repo_root().join("observability/rules/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("observability/rules/tests exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no promtool tests in {}", dir.display());
    files
        .iter()
        .flat_map(|p| {
            parse_documents(&std::fs::read_to_string(p).expect("read test"))
                .expect("test file is YAML")
        })
        .collect()
}

fn alert_mut<'a>(rules: &'a mut [Rule], name: &str) -> &'a mut Rule {
    rules
        .iter_mut()
        .find(|r| r.alert.as_deref() == Some(name))
        .expect("alert exists")
}

fn assert_problem(problems: &[String], expected: &str) {
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got {problems:#?}"
    );
}

#[test]
fn everything_renders_into_the_expected_namespaces() {
    let objects = objects();
    for object in &objects {
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        // The Helm charts in namespace observability mount these two (argocd/platform/values/);
        // Tempo's NetworkPolicy guards Tempo there; the Namespace itself is cluster-scoped (this
        // Application owns it so that it exists before the pipeline ConfigMaps land in it).
        let expected = if object["kind"] == "Namespace" {
            assert_eq!(name, "observability", "the only Namespace rendered here");
            ""
        } else if ["alloy-config", "otel-collector-config"].contains(&name)
            || object["kind"] == "NetworkPolicy"
        {
            "observability"
        } else {
            "monitoring"
        };
        assert_eq!(namespace, expected, "{} {name}", object["kind"]);
    }
    assert_eq!(observability::prometheus_rules(&objects).len(), 2);
    assert_eq!(observability::dashboards(&objects).len(), 4);
}

#[test]
fn every_alert_has_severity_summary_value_and_an_existing_runbook() {
    let rules = observability::rules(&objects());
    assert!(rules.iter().filter(|r| r.alert.is_some()).count() >= 9);
    assert_eq!(
        checks::alert_problems(&rules, &runbooks()),
        Vec::<String>::new()
    );

    let mut broken = rules.clone();
    alert_mut(&mut broken, "GreeterRedisDown")
        .labels
        .insert("severity".into(), json!("critical"));
    alert_mut(&mut broken, "GreeterPodNotReady")
        .annotations
        .remove("summary");
    alert_mut(&mut broken, "GreeterPodCrashLooping")
        .annotations
        .insert("description".into(), json!("no value"));
    alert_mut(&mut broken, "GreeterVisitStoreErrors")
        .annotations
        .insert(
            "runbook_url".into(),
            json!(format!(
                "{}no-such-page.md",
                observability::RUNBOOK_URL_PREFIX
            )),
        );
    alert_mut(&mut broken, "GreeterRolloutAborted")
        .annotations
        .insert("runbook_url".into(), json!("https://example.com/x.md"));
    let problems = checks::alert_problems(&broken, &runbooks());
    assert_problem(&problems, "GreeterRedisDown: severity \"critical\"");
    assert_problem(&problems, "GreeterPodNotReady: no summary");
    assert_problem(
        &problems,
        "GreeterPodCrashLooping: description does not show the measured value",
    );
    assert_problem(
        &problems,
        "GreeterVisitStoreErrors: runbook page no-such-page.md does not exist",
    );
    assert_problem(
        &problems,
        "GreeterRolloutAborted: runbook_url \"https://example.com/x.md\"",
    );

    // A page that exists but is about another alert.
    alert_mut(&mut broken, "GreeterRedisDown")
        .annotations
        .insert(
            "runbook_url".into(),
            json!(format!(
                "{}greeter-certificate-expiring.md",
                observability::RUNBOOK_URL_PREFIX
            )),
        );
    assert_problem(
        &checks::alert_problems(&broken, &runbooks()),
        "GreeterRedisDown: runbook greeter-certificate-expiring.md does not mention",
    );
}

#[test]
fn every_alert_has_promtool_tests_that_fire_and_stay_silent() {
    let rules = observability::rules(&objects());
    let tests = promtool_tests();
    assert_eq!(
        checks::promtool_coverage_problems(&rules, &tests),
        Vec::<String>::new()
    );

    let mut renamed = rules.clone();
    alert_mut(&mut renamed, "GreeterRedisDown").alert = Some("GreeterUntested".into());
    assert_problem(
        &checks::promtool_coverage_problems(&renamed, &tests),
        "GreeterUntested: no promtool test where it fires",
    );
    assert_problem(
        &checks::promtool_coverage_problems(&renamed, &tests),
        "GreeterUntested: no promtool test where it stays silent",
    );
}

/// scripts/check-rules runs these on the real rules; here they must catch a broken threshold.
#[test]
fn promtool_unit_tests_fail_when_an_alert_threshold_is_broken() {
    let objects = objects();
    let work = std::env::temp_dir().join(format!("greeter-promtool-{}", std::process::id()));
    let run = |objects: &[Value]| -> (bool, String) {
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("temp dir");
        for (name, spec) in observability::rule_files(objects) {
            std::fs::write(work.join(format!("{name}.yaml")), spec).expect("write rules");
        }
        let mut tests = Vec::new();
        for entry in
            std::fs::read_dir(repo_root().join("observability/rules/tests")).expect("tests dir")
        {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .to_string();
            std::fs::copy(&path, work.join(&name)).expect("copy test");
            tests.push(name);
        }
        let output = Command::new("promtool")
            .arg("test")
            .arg("rules")
            .args(&tests)
            .current_dir(&work)
            .output()
            .expect("promtool is not installed: apt-get install --no-install-recommends prometheus (scripts/setup)");
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    };
    let (ok, output) = run(&objects);
    assert!(ok, "promtool unit tests fail on the real rules:\n{output}");

    let broken: Vec<Value> = objects
        .iter()
        .map(|o| {
            let text = serde_json::to_string(o).expect("serialize");
            serde_json::from_str(&text.replace("/ 0.001 > 14.4", "/ 0.001 > 144")).expect("parse")
        })
        .collect();
    let (ok, output) = run(&broken);
    let _ = std::fs::remove_dir_all(&work);
    assert!(
        !ok,
        "promtool unit tests pass with a 10x page threshold:\n{output}"
    );
    assert!(output.contains("GreeterAvailabilityBudgetBurn"), "{output}");
}

#[test]
fn every_recording_rule_is_used() {
    let objects = objects();
    let rules = observability::rules(&objects);
    let queries: Vec<_> = observability::dashboards(&objects)
        .iter()
        .flat_map(|d| observability::panel_queries(&d.json))
        .collect();
    assert_eq!(
        checks::unused_recording_rules(&rules, &queries),
        Vec::<String>::new()
    );

    let mut extra = rules.clone();
    let mut dead = extra[0].clone();
    dead.record = Some("namespace:greeter_nobody_reads:rate5m".into());
    extra.push(dead);
    assert_problem(
        &checks::unused_recording_rules(&extra, &queries),
        "namespace:greeter_nobody_reads:rate5m is used by no",
    );
}

#[test]
fn dashboards_use_the_datasource_and_namespace_variables() {
    let dashboards: Vec<Value> = observability::dashboards(&objects())
        .into_iter()
        .map(|d| d.json)
        .collect();
    assert_eq!(
        checks::dashboard_problems(&dashboards),
        Vec::<String>::new()
    );
    for dashboard in &dashboards {
        assert!(
            !observability::panel_queries(dashboard).is_empty(),
            "{} has no queries",
            dashboard["title"]
        );
    }

    let mut broken = dashboards.clone();
    broken[1]["uid"] = broken[0]["uid"].clone();
    broken[0]["templating"]["list"] = json!([]);
    broken[2]["panels"][1]["targets"][0]["expr"] =
        json!("sum(rate(greeter_http_requests_total[5m]))");
    broken[2]["panels"][1]["datasource"]["uid"] = json!("prometheus");
    broken[3]["panels"][2]["id"] = broken[3]["panels"][1]["id"].clone();
    let problems = checks::dashboard_problems(&broken);
    assert_problem(&problems, "is not unique");
    assert_problem(&problems, "no Prometheus data source variable");
    assert_problem(&problems, "no variable \"namespace\"");
    assert_problem(&problems, "ignores $namespace");
    assert_problem(&problems, "does not use the ${datasource} variable");
    assert_problem(&problems, "panel id");
}

struct Alertmanager {
    raw: String,
    config: Value,
    external_secret: Value,
}

fn alertmanager(objects: &[Value]) -> Alertmanager {
    let raw =
        observability::config_map_data(objects, "alertmanager-greeter-config", "alertmanager.yaml")
            .to_string();
    let config = parse_documents(&raw)
        .expect("alertmanager.yaml is YAML")
        .remove(0);
    let external_secret = find(objects, "ExternalSecret", "alertmanager-greeter").clone();
    Alertmanager {
        raw,
        config,
        external_secret,
    }
}

/// Every alert that reaches the Alertmanager, each (alertname, severity) once: ours from
/// observability/ and kube-prometheus-stack's default rules.
fn routed_alerts(rules: &[Rule]) -> BTreeSet<PlatformAlert> {
    let ours = rules.iter().filter_map(|rule| {
        Some(PlatformAlert {
            name: rule.alert.clone()?,
            severity: rule.labels.get("severity")?.as_str()?.to_string(),
        })
    });
    ours.chain(platform_alerts::kube_prometheus_stack_alerts())
        .collect()
}

fn alert_names(alerts: &BTreeSet<PlatformAlert>) -> BTreeSet<String> {
    alerts.iter().map(|a| a.name.clone()).collect()
}

#[test]
fn alertmanager_config_matches_the_alerts_and_its_external_secret() {
    let objects = objects();
    let alerts = alert_names(&routed_alerts(&observability::rules(&objects)));
    let am = alertmanager(&objects);
    assert_eq!(
        checks::alertmanager_problems(&am.raw, &am.config, &alerts, &am.external_secret),
        Vec::<String>::new()
    );
    // The ExternalSecret reads the webhook from Vault and templates the ConfigMap we render.
    assert_eq!(
        am.external_secret["spec"]["secretStoreRef"],
        json!({"kind": "ClusterSecretStore", "name": "vault"})
    );
    let template = am.external_secret["spec"]["target"]["template"]["templateFrom"][0]["configMap"]
        ["name"]
        .as_str()
        .unwrap();
    find(&objects, "ConfigMap", template);

    let mut config = am.config.clone();
    config["inhibit_rules"][0]["source_matchers"] = json!(["alertname=\"GreeterRolloutAbort\""]);
    config["global"]["slack_api_url_file"] = json!("/etc/alertmanager/secrets/slack/url");
    config["route"]["routes"][0]["matchers"] = json!(["alertname=~\"WatchDog|InfoInhibitor\""]);
    let raw = format!("{}\n# {{{{ .Values }}}}", am.raw);
    let problems = checks::alertmanager_problems(&raw, &config, &alerts, &am.external_secret);
    assert_problem(&problems, "External Secrets would evaluate it");
    assert_problem(
        &problems,
        "inhibit rule names alert GreeterRolloutAbort, which no rule defines",
    );
    assert_problem(
        &problems,
        "route names alert WatchDog, which no rule defines",
    );
    assert_problem(
        &problems,
        "slack_api_url_file \"/etc/alertmanager/secrets/slack/url\"",
    );
}

fn amtool(args: &[&str], config: &Path) -> (bool, String) {
    let output = Command::new("amtool")
        .args(args)
        .arg(format!("--config.file={}", config.display()))
        .output()
        .expect("amtool is not installed: apt-get install --no-install-recommends prometheus-alertmanager (scripts/setup)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Who hears about an alert (docs/observability.md, "Routing"): pages and the chart's critical
/// alerts page; tickets, warnings and info alerts (when InfoInhibitor lets them through) become
/// tickets; the Watchdog heartbeat and InfoInhibitor itself reach no one.
fn expected_receiver(alert: &PlatformAlert) -> &'static str {
    match (alert.name.as_str(), alert.severity.as_str()) {
        ("Watchdog" | "InfoInhibitor", "none") => "null",
        (_, "page" | "critical") => "slack-pages",
        (_, "ticket" | "warning" | "info") => "slack-tickets",
        (name, severity) => panic!(
            "{name} has severity {severity:?}, which has no routing decision: make one in alertmanager.yaml, docs/observability.md and this table"
        ),
    }
}

/// `amtool config routes test` for each alert: "NAME (severity) reaches X, want Y" where the
/// receivers differ from `expected_receiver`.
fn misrouted<'a>(
    config: &Path,
    alerts: impl IntoIterator<Item = &'a PlatformAlert>,
) -> Vec<String> {
    alerts
        .into_iter()
        .filter_map(|alert| {
            let labels = [
                format!("alertname={}", alert.name),
                format!("severity={}", alert.severity),
            ];
            let (ok, output) = amtool(
                &["config", "routes", "test", &labels[0], &labels[1]],
                config,
            );
            assert!(ok, "amtool config routes test {labels:?}:\n{output}");
            let receivers = output.lines().next().unwrap_or_default();
            let want = expected_receiver(alert);
            (receivers != want).then(|| {
                format!(
                    "{} ({}) reaches {receivers}, want {want}",
                    alert.name, alert.severity
                )
            })
        })
        .collect()
}

fn amtool_check_config(path: &Path) -> (bool, String) {
    let output = Command::new("amtool")
        .arg("check-config")
        .arg(path)
        .output()
        .expect("amtool is not installed: scripts/setup");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

/// amtool validates the config and routes every alert that reaches the Alertmanager (ours and all
/// of kube-prometheus-stack's default rules) to the receiver its severity calls for.
#[test]
fn amtool_routes_every_alert_by_its_severity() {
    let objects = objects();
    let am = alertmanager(&objects);
    let alerts = routed_alerts(&observability::rules(&objects));
    let alert = |name: &str, severity: &str| PlatformAlert {
        name: name.into(),
        severity: severity.into(),
    };
    // One of each kind, named so that a chart bump that drops one is noticed here.
    let representatives = [
        alert("Watchdog", "none"),
        alert("InfoInhibitor", "none"),
        alert("KubeAPIDown", "critical"),
        alert("KubePodCrashLooping", "warning"),
        alert("CPUThrottlingHigh", "info"),
        alert("GreeterRedisDown", "page"),
        alert("GreeterPodCrashLooping", "ticket"),
    ];
    for representative in &representatives {
        assert!(
            alerts.contains(representative),
            "{representative:?} is not among the alerts of observability/ and kube-prometheus-stack"
        );
    }

    let dir = std::env::temp_dir().join(format!("greeter-amtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("alertmanager.yaml");
    std::fs::write(&good, &am.raw).expect("write config");
    let (ok, output) = amtool_check_config(&good);
    assert!(ok, "amtool check-config:\n{output}");
    assert_eq!(misrouted(&good, &alerts), Vec::<String>::new());

    // The routing before platform alerts were considered: severity page | ticket only.
    let mut greeter_only = am.config.clone();
    let routes = greeter_only["route"]["routes"]
        .as_array_mut()
        .expect("route.routes");
    routes.retain(|r| r["receiver"] != "null");
    routes[0]["matchers"] = json!(["severity=\"page\""]);
    routes[1]["matchers"] = json!(["severity=\"ticket\""]);
    let broken = dir.join("greeter-only.yaml");
    std::fs::write(
        &broken,
        serde_yaml_ng::to_string(&greeter_only).expect("config serializes"),
    )
    .expect("write config");
    let problems = misrouted(&broken, &representatives);
    assert_problem(
        &problems,
        "Watchdog (none) reaches slack-tickets, want null",
    );
    assert_problem(
        &problems,
        "KubeAPIDown (critical) reaches slack-tickets, want slack-pages",
    );

    std::fs::write(
        &broken,
        am.raw
            .replace("receiver: slack-pages", "receiver: slack-nowhere"),
    )
    .expect("write config");
    let (ok, output) = amtool_check_config(&broken);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !ok,
        "amtool accepts a route to an undefined receiver:\n{output}"
    );
}

/// The chart's alerts come from a real render of the pinned chart; an alert without a severity
/// fails loudly instead of escaping the routing test.
#[test]
fn platform_alerts_are_read_with_their_severity_from_the_pinned_chart() {
    let alerts = platform_alerts::kube_prometheus_stack_alerts();
    let severities: BTreeSet<&str> = alerts.iter().map(|a| a.severity.as_str()).collect();
    assert_eq!(
        severities,
        BTreeSet::from(["critical", "info", "none", "warning"])
    );
    assert!(alerts.len() > 100, "{} alerts", alerts.len());

    let rendered = parse_documents(
        "kind: PrometheusRule\nspec:\n  groups:\n    - rules:\n        - alert: Watchdog\n          expr: vector(1)\n        - record: x\n          expr: up\n        - alert: TargetDown\n          labels: {severity: warning}\n",
    )
    .expect("YAML");
    let missing = std::panic::catch_unwind(|| platform_alerts::alerts_of(&rendered))
        .expect_err("an alert without severity is refused");
    assert!(
        missing
            .downcast_ref::<String>()
            .is_some_and(|m| m.contains("alert Watchdog has no severity")),
        "{missing:?}"
    );
    let mut without_watchdog = rendered;
    without_watchdog[0]["spec"]["groups"][0]["rules"]
        .as_array_mut()
        .expect("rules")
        .remove(0);
    assert_eq!(
        platform_alerts::alerts_of(&without_watchdog),
        [PlatformAlert {
            name: "TargetDown".into(),
            severity: "warning".into()
        }]
    );
}

#[test]
fn collector_pipeline_is_complete_and_listens_where_the_service_sends() {
    let objects = objects();
    let relay = parse_documents(observability::config_map_data(
        &objects,
        "otel-collector-config",
        "relay",
    ))
    .expect("relay is YAML")
    .remove(0);
    assert_eq!(checks::collector_problems(&relay), Vec::<String>::new());
    // The service's endpoint (deploy/base) is this collector's OTLP/HTTP port.
    let base = std::fs::read_to_string(repo_root().join("deploy/base/kustomization.yaml"))
        .expect("deploy/base");
    assert!(
        base.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector.observability.svc:4318")
    );

    let mut broken = relay.clone();
    broken["service"]["pipelines"]["traces"]["processors"] =
        json!(["batch", "k8sattributes", "memory_limiter"]);
    broken["service"]["pipelines"]["traces"]["exporters"] = json!(["otlp/jaeger"]);
    broken["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = json!("${env:MY_POD_IP}:4319");
    broken["service"]["extensions"] = json!(["pprof"]);
    let problems = checks::collector_problems(&broken);
    assert_problem(&problems, "memory_limiter is not the first processor");
    assert_problem(&problems, "batch is not the last processor");
    assert_problem(
        &problems,
        "uses exporters otlp/jaeger, which is not defined",
    );
    assert_problem(&problems, "the service sends to port 4318");
    assert_problem(&problems, "extension pprof is not defined");
}

#[test]
fn tempo_admits_exactly_the_collector_grafana_and_prometheus() {
    let objects = objects();
    assert_eq!(network::tempo_flows(&objects), Vec::<String>::new());
    // The ports the policy opens are the ones the collector and Grafana dial (the tempo chart's
    // Service maps each port to the same container port).
    let relay = parse_documents(observability::config_map_data(
        &objects,
        "otel-collector-config",
        "relay",
    ))
    .expect("relay is YAML")
    .remove(0);
    assert_eq!(
        relay["exporters"]["otlp/tempo"]["endpoint"],
        "tempo.observability.svc:4317"
    );
    let datasources =
        observability::config_map_data(&objects, "greeter-grafana-datasources", "datasources.yaml");
    assert!(datasources.contains("url: http://tempo.observability.svc:3200"));

    let broken = |change: fn(&mut Value)| {
        let mut copy = objects.clone();
        let policy = copy
            .iter_mut()
            .find(|o| o["kind"] == "NetworkPolicy")
            .expect("Tempo's NetworkPolicy is rendered");
        change(policy);
        network::tempo_flows(&copy)
    };
    // No policy at all (the charts render none): every pod reaches every Tempo port.
    let without: Vec<Value> = objects
        .iter()
        .filter(|o| o["kind"] != "NetworkPolicy")
        .cloned()
        .collect();
    assert_problem(
        &network::tempo_flows(&without),
        "a pod in another namespace -> Tempo is admitted by the ingress of Tempo but not listed",
    );
    assert_problem(
        &broken(|p| {
            p["spec"]["ingress"][0]["from"][0]
                .as_object_mut()
                .unwrap()
                .remove("podSelector");
        }),
        "another pod in observability -> Tempo is admitted by the ingress of Tempo but not listed (4317/TCP)",
    );
    assert_problem(
        &broken(|p| {
            p["spec"]["ingress"][1]["from"][0]
                .as_object_mut()
                .unwrap()
                .remove("namespaceSelector");
        }),
        "Grafana -> Tempo 3200/TCP must be admitted",
    );
    assert_problem(
        &broken(|p| {
            p["spec"]["ingress"][1]["ports"]
                .as_array_mut()
                .unwrap()
                .push(json!({"port": 4318}));
        }),
        "Prometheus -> Tempo is admitted by the ingress of Tempo but not listed (4318/TCP)",
    );
}

#[test]
fn logs_link_to_traces_and_back() {
    let objects = objects();
    let alloy = observability::config_map_data(&objects, "alloy-config", "config.alloy");
    let datasources = parse_documents(observability::config_map_data(
        &objects,
        "greeter-grafana-datasources",
        "datasources.yaml",
    ))
    .expect("YAML")
    .remove(0);
    assert_eq!(
        checks::log_trace_link_problems(alloy, &datasources),
        Vec::<String>::new()
    );
    assert_eq!(
        observability::shipped_log_fields(&objects),
        ["level", "timestamp", "trace_id", "span_id"]
    );

    let unlinked = alloy
        .replace("trace_id = \"\",", "")
        .replace("level = \"\",", "");
    let mut broken = datasources.clone();
    broken["datasources"][0]["jsonData"]["derivedFields"][0]["datasourceUid"] = json!("jaeger");
    broken["datasources"][1]["jsonData"]["tracesToLogsV2"]["datasourceUid"] = json!("elastic");
    let problems = checks::log_trace_link_problems(&unlinked, &broken);
    assert_problem(&problems, "does not index level");
    assert_problem(&problems, "does not keep trace_id");
    assert_problem(&problems, "no derived field linking");
    assert_problem(&problems, "Tempo does not link traces back");
}

#[test]
fn every_overlay_scrapes_the_service_as_the_queries_expect() {
    for overlay in ["dev", "staging", "prod"] {
        let objects = policy::render(&repo_root().join("deploy/overlays").join(overlay));
        assert_eq!(
            checks::scrape_contract_problems(&objects),
            Vec::<String>::new(),
            "{overlay}"
        );
    }
    let objects = policy::render(&repo_root().join("deploy/overlays/dev"));
    let mut broken = objects.clone();
    for object in broken.iter_mut().filter(|o| o["kind"] == "ServiceMonitor") {
        object["spec"]["podTargetLabels"] = json!([]);
        object["spec"]["jobLabel"] = json!("app.kubernetes.io/component");
        object["spec"]["endpoints"][0]["port"] = json!("http");
    }
    let problems = checks::scrape_contract_problems(&broken);
    assert_problem(
        &problems,
        "podTargetLabels lacks rollouts-pod-template-hash",
    );
    assert_problem(&problems, "rules and dashboards use job=\"greeter\"");
    assert_problem(&problems, "no endpoint scrapes port metrics");
}

/// The gateway-side SLI reads the data plane of each environment's Gateway as job greeter-nginx.
#[test]
fn the_gateway_data_plane_is_scraped_as_the_rules_expect() {
    let objects = objects();
    assert!(
        observability::rules(&objects).iter().any(|r| r
            .expr
            .contains("nginx_http_requests_total{job=\"greeter-nginx\"}")),
        "the gateway-side SLI no longer reads job greeter-nginx"
    );
    for env in policy::deploy::Env::ALL {
        let overlay = policy::render(&env.overlay());
        let gateway = policy::objects::find(&overlay, "Gateway", "greeter").expect("Gateway");
        let data_plane = policy::runtime_pods::nginx_data_plane(gateway);
        assert_eq!(
            checks::gateway_scrape_problems(&objects, &data_plane, "greeter-nginx"),
            Vec::<String>::new(),
            "{env:?}"
        );
    }
    let overlay = policy::render(&policy::deploy::Env::Dev.overlay());
    let gateway = policy::objects::find(&overlay, "Gateway", "greeter").expect("Gateway");
    let data_plane = policy::runtime_pods::nginx_data_plane(gateway);
    let mut broken = objects.clone();
    let monitor = broken
        .iter_mut()
        .find(|o| o["kind"] == "PodMonitor" && o["metadata"]["name"] == "nginx-gateway-data-planes")
        .expect("PodMonitor nginx-gateway-data-planes");
    monitor["spec"]["jobLabel"] = json!("gateway.networking.k8s.io/gateway-name");
    monitor["spec"]["podMetricsEndpoints"][0]["port"] = json!("http-metrics");
    let problems = checks::gateway_scrape_problems(&broken, &data_plane, "greeter-nginx");
    assert_problem(&problems, "the data plane's job would be Some(\"greeter\")");
    assert_problem(
        &problems,
        "no endpoint scrapes a container port of the data plane",
    );
    let monitor = broken
        .iter_mut()
        .find(|o| o["kind"] == "PodMonitor" && o["metadata"]["name"] == "nginx-gateway-data-planes")
        .expect("PodMonitor");
    monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/managed-by"] =
        json!("nginx-gateway-nginx");
    assert_problem(
        &checks::gateway_scrape_problems(&broken, &data_plane, "greeter-nginx"),
        "0 PodMonitors select the gateway's data plane in greeter-dev",
    );
}

#[test]
fn promtool_evaluates_each_rule_group_after_the_groups_it_reads() {
    let rules = observability::rules(&objects());
    let tests = promtool_tests();
    assert_eq!(
        checks::promtool_eval_order_problems(&rules, &tests),
        Vec::<String>::new()
    );

    let mut unordered = tests.clone();
    unordered[0]
        .as_object_mut()
        .expect("a test file is a map")
        .remove("group_eval_order");
    assert_problem(
        &checks::promtool_eval_order_problems(&rules, &unordered),
        "test file #0: group_eval_order does not name greeter-sli.rules",
    );

    let mut reversed = tests.clone();
    let order = reversed[0]["group_eval_order"]
        .as_array_mut()
        .expect("group_eval_order is a list");
    order.swap(0, 1);
    assert_problem(
        &checks::promtool_eval_order_problems(&rules, &reversed),
        "test file #0: greeter-slo.rules is evaluated before greeter-sli.rules",
    );
}
