//! Integrity rules for what observability/ ships. Each check returns the problems it found (empty
//! when the tree is sound), so that tests can run it on the real tree and on broken copies.

use super::{promql, PanelQuery, Rule, RUNBOOK_URL_PREFIX};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const SEVERITIES: &[&str] = &["page", "ticket"];

/// Every alert: a routable severity, a summary, a description that shows the measured value, and a
/// runbook_url to an existing page in `runbooks` that names the alert.
pub fn alert_problems(rules: &[Rule], runbooks: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for rule in rules {
        let Some(alert) = &rule.alert else { continue };
        let label = |key: &str| {
            rule.labels
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let annotation = |key: &str| {
            rule.annotations
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        if !SEVERITIES.contains(&label("severity")) {
            problems.push(format!(
                "{alert}: severity {:?} is not one of {SEVERITIES:?}",
                label("severity")
            ));
        }
        if annotation("summary").trim().is_empty() {
            problems.push(format!("{alert}: no summary"));
        }
        if !annotation("description").contains("$value") {
            problems.push(format!(
                "{alert}: description does not show the measured value ($value)"
            ));
        }
        let url = annotation("runbook_url");
        match url.strip_prefix(RUNBOOK_URL_PREFIX) {
            Some(page) if page.ends_with(".md") && !page.contains('/') => {
                match std::fs::read_to_string(runbooks.join(page)) {
                    Ok(text) if text.contains(alert.as_str()) => {}
                    Ok(_) => problems.push(format!(
                        "{alert}: runbook {page} does not mention the alert"
                    )),
                    Err(_) => problems.push(format!("{alert}: runbook page {page} does not exist")),
                }
            }
            _ => problems.push(format!(
                "{alert}: runbook_url {url:?} is not a page under {RUNBOOK_URL_PREFIX}"
            )),
        }
    }
    problems
}

/// Every alert has a promtool unit test where it fires and one where it stays silent.
/// `tests` are the parsed promtool test files.
pub fn promtool_coverage_problems(rules: &[Rule], tests: &[Value]) -> Vec<String> {
    let cases: Vec<&Value> = tests
        .iter()
        .flat_map(|file| file["tests"].as_array().into_iter().flatten())
        .flat_map(|test| test["alert_rule_test"].as_array().into_iter().flatten())
        .collect();
    let alerts: BTreeSet<&str> = rules.iter().filter_map(|r| r.alert.as_deref()).collect();
    let mut problems = Vec::new();
    for alert in alerts {
        let mine: Vec<&&Value> = cases.iter().filter(|c| c["alertname"] == alert).collect();
        let fires = mine
            .iter()
            .any(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()));
        let silent = mine
            .iter()
            .any(|c| c["exp_alerts"].as_array().is_none_or(|a| a.is_empty()));
        if !fires {
            problems.push(format!("{alert}: no promtool test where it fires"));
        }
        if !silent {
            problems.push(format!("{alert}: no promtool test where it stays silent"));
        }
    }
    problems
}

/// Every recording rule is read by an alert, another rule or a dashboard: no dead series.
pub fn unused_recording_rules(rules: &[Rule], dashboard_queries: &[PanelQuery]) -> Vec<String> {
    let mut used = BTreeSet::new();
    for expr in rules
        .iter()
        .map(|r| &r.expr)
        .chain(dashboard_queries.iter().map(|q| &q.expr))
    {
        used.extend(promql::references(&expr.replace('$', "")).metrics());
    }
    rules
        .iter()
        .filter_map(|r| r.record.as_ref())
        .filter(|record| !used.contains(*record))
        .map(|record| format!("recording rule {record} is used by no alert, rule or dashboard"))
        .collect()
}

/// Dashboards: unique uid, `datasource` and `namespace` variables, every query on the
/// `${datasource}` data source and filtered by `$namespace`, unique panel ids.
pub fn dashboard_problems(dashboards: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for dashboard in dashboards {
        let title = dashboard["title"].as_str().unwrap_or("(untitled)");
        if !uids.insert(dashboard["uid"].as_str().unwrap_or_default()) {
            problems.push(format!("{title}: uid {} is not unique", dashboard["uid"]));
        }
        let variables = dashboard["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let variable = |name: &str| variables.iter().find(|v| v["name"] == name).cloned();
        match variable("datasource") {
            Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
            _ => problems.push(format!(
                "{title}: no Prometheus data source variable \"datasource\""
            )),
        }
        if variable("namespace").is_none() {
            problems.push(format!("{title}: no variable \"namespace\""));
        }
        let mut ids = BTreeSet::new();
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            let name = panel["title"].as_str().unwrap_or_default();
            if !ids.insert(panel["id"].as_i64().unwrap_or(-1)) {
                problems.push(format!(
                    "{title}: panel id {} of {name:?} is not unique",
                    panel["id"]
                ));
            }
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            if !targets.is_empty() && panel["datasource"]["uid"] != "${datasource}" {
                problems.push(format!(
                    "{title}: panel {name:?} does not use the ${{datasource}} variable"
                ));
            }
            for target in &targets {
                let expr = target["expr"].as_str().unwrap_or_default();
                if target["datasource"]["uid"] != "${datasource}" {
                    problems.push(format!(
                        "{title}: a query of {name:?} does not use the ${{datasource}} variable"
                    ));
                }
                if !expr.contains("$namespace") {
                    problems.push(format!(
                        "{title}: query of {name:?} ignores $namespace: {expr}"
                    ));
                }
            }
        }
    }
    problems
}

/// Alertmanager config (parsed, and its raw text) against the alerts that can reach it (`alerts`:
/// ours and the platform's) and the ExternalSecret that renders it: no template actions (External
/// Secrets would evaluate them), every alert name in a route or an inhibit rule exists, the webhook
/// file is where the ExternalSecret's Secret is mounted.
pub fn alertmanager_problems(
    raw: &str,
    config: &Value,
    alerts: &BTreeSet<String>,
    external_secret: &Value,
) -> Vec<String> {
    let mut problems = Vec::new();
    if raw.contains("{{") {
        problems.push("alertmanager.yaml contains {{ }}: External Secrets would evaluate it as its own template".into());
    }
    let inhibit_matchers = config["inhibit_rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| {
            ["source_matchers", "target_matchers"].map(|key| ("inhibit rule", &rule[key]))
        });
    let route_matchers = routes(&config["route"])
        .into_iter()
        .map(|route| ("route", &route["matchers"]));
    for (place, matchers) in inhibit_matchers.chain(route_matchers) {
        for matcher in matchers
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let Some(names) = matcher
                .strip_prefix("alertname=~")
                .or(matcher.strip_prefix("alertname="))
            else {
                continue;
            };
            for name in names.trim_matches('"').split('|') {
                if !alerts.contains(name) {
                    problems.push(format!("{place} names alert {name}, which no rule defines"));
                }
            }
        }
    }
    let secret = external_secret["spec"]["target"]["name"]
        .as_str()
        .unwrap_or_default();
    let keys: Vec<&String> = external_secret["spec"]["target"]["template"]["data"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    let file = config["global"]["slack_api_url_file"]
        .as_str()
        .unwrap_or_default();
    if !keys
        .iter()
        .any(|key| file == format!("/etc/alertmanager/secrets/{secret}/{key}"))
    {
        problems.push(format!(
            "slack_api_url_file {file:?} is not a key of Secret {secret:?} (mounted at /etc/alertmanager/secrets/{secret}/)"
        ));
    }
    problems
}

/// A route and all routes below it.
fn routes(route: &Value) -> Vec<&Value> {
    let mut all = vec![route];
    for child in route["routes"].as_array().into_iter().flatten() {
        all.extend(routes(child));
    }
    all
}

/// OpenTelemetry collector config: every pipeline component is defined, memory_limiter comes
/// first and batch last, and OTLP/HTTP listens on 4318 (the service's exporter endpoint).
pub fn collector_problems(relay: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let pipelines = relay["service"]["pipelines"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if pipelines.is_empty() {
        problems.push("no pipelines".to_string());
    }
    for (name, pipeline) in &pipelines {
        for kind in ["receivers", "processors", "exporters"] {
            let components: Vec<&str> = pipeline[kind]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for component in &components {
                if relay[kind].get(*component).is_none() {
                    problems.push(format!(
                        "pipeline {name} uses {kind} {component}, which is not defined"
                    ));
                }
            }
            if kind == "processors" {
                if components.first() != Some(&"memory_limiter") {
                    problems.push(format!(
                        "pipeline {name}: memory_limiter is not the first processor"
                    ));
                }
                if components.last() != Some(&"batch") {
                    problems.push(format!("pipeline {name}: batch is not the last processor"));
                }
            }
        }
    }
    for extension in relay["service"]["extensions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if relay["extensions"].get(extension).is_none() {
            problems.push(format!("extension {extension} is not defined"));
        }
    }
    let http = relay["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        .as_str()
        .unwrap_or_default();
    if !http.ends_with(":4318") {
        problems.push(format!(
            "OTLP/HTTP receiver listens on {http:?}, the service sends to port 4318"
        ));
    }
    problems
}

/// Logs link to traces: the shipper keeps level as a label and trace_id as structured metadata,
/// and the Loki data source turns that trace_id into a link to the Tempo data source (and back).
pub fn log_trace_link_problems(alloy: &str, datasources: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let block = |stage: &str| {
        alloy
            .find(stage)
            .map(|start| {
                &alloy[start..start + alloy[start..].find("\n  }").unwrap_or(alloy.len() - start)]
            })
            .unwrap_or_default()
    };
    if !block("stage.labels").contains("level") {
        problems.push("the log shipper does not index level as a label".to_string());
    }
    if !block("stage.structured_metadata").contains("trace_id") {
        problems.push("the log shipper does not keep trace_id as structured metadata".to_string());
    }
    let sources = datasources["datasources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let uid_of = |kind: &str| {
        sources
            .iter()
            .find(|d| d["type"] == kind)
            .map(|d| d["uid"].clone())
    };
    let (Some(loki), Some(tempo)) = (uid_of("loki"), uid_of("tempo")) else {
        problems.push("data sources must define Loki and Tempo".to_string());
        return problems;
    };
    let loki_source = sources
        .iter()
        .find(|d| d["type"] == "loki")
        .cloned()
        .unwrap_or_default();
    let linked = loki_source["jsonData"]["derivedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| {
            f["matcherType"] == "label"
                && f["matcherRegex"] == "trace_id"
                && f["datasourceUid"] == tempo
        });
    if !linked {
        problems.push(
            "Loki has no derived field linking the trace_id label to the Tempo data source"
                .to_string(),
        );
    }
    let tempo_source = sources
        .iter()
        .find(|d| d["type"] == "tempo")
        .cloned()
        .unwrap_or_default();
    if tempo_source["jsonData"]["tracesToLogsV2"]["datasourceUid"] != loki {
        problems.push("Tempo does not link traces back to the Loki data source".to_string());
    }
    problems
}

/// The scrape the dashboards and rules (and the end-to-end test's Prometheus) rely on: a
/// ServiceMonitor whose jobLabel makes job="greeter", that copies the pod template hash into
/// `rollouts_pod_template_hash`, and scrapes the `metrics` port at /metrics. `objects` is an
/// overlay as rendered.
pub fn scrape_contract_problems(objects: &[Value]) -> Vec<String> {
    let monitors: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "ServiceMonitor")
        .collect();
    let Some(monitor) = monitors.iter().find(|m| m["metadata"]["name"] == "greeter") else {
        return vec!["no ServiceMonitor greeter".to_string()];
    };
    let mut problems = Vec::new();
    let spec = &monitor["spec"];
    let selector = spec["selector"]["matchLabels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let service = objects.iter().find(|o| {
        o["kind"] == "Service"
            && selector
                .iter()
                .all(|(k, v)| &o["metadata"]["labels"][k] == v)
    });
    let job_label = spec["jobLabel"].as_str().unwrap_or_default();
    match service {
        Some(service) if service["metadata"]["labels"][job_label] == "greeter" => {}
        Some(service) => problems.push(format!(
            "job would be {:?} (label {job_label:?} of Service {}), rules and dashboards use job=\"greeter\"",
            service["metadata"]["labels"][job_label], service["metadata"]["name"]
        )),
        None => problems.push("the ServiceMonitor selects no Service".to_string()),
    }
    let pod_labels: Vec<&str> = spec["podTargetLabels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !pod_labels.contains(&"rollouts-pod-template-hash") {
        problems.push("podTargetLabels lacks rollouts-pod-template-hash (canary panels and analysis select by it)".to_string());
    }
    let scrapes_metrics = spec["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["port"] == "metrics" && e["path"] == "/metrics");
    if !scrapes_metrics {
        problems.push("no endpoint scrapes port metrics at /metrics".to_string());
    }
    problems
}

/// The scrape the gateway-side SLI relies on: a PodMonitor of observability/ selects the data plane
/// NGINX Gateway Fabric provisions for an environment's Gateway (`data_plane`, from
/// crate::runtime_pods), in its namespace, scrapes a container port it has at /metrics, and names
/// the job `job` (what the recording rules select).
pub fn gateway_scrape_problems(objects: &[Value], data_plane: &Value, job: &str) -> Vec<String> {
    let pod = crate::network_policy::Pod::of_workload(data_plane);
    let selects = |monitor: &&Value| {
        let spec = &monitor["spec"];
        let namespaces = &spec["namespaceSelector"];
        let in_namespace = namespaces["any"] == true
            || namespaces["matchNames"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n == pod.namespace.as_str()));
        in_namespace && crate::objects::selector_matches(&spec["selector"], &pod.labels)
    };
    let monitors: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "PodMonitor")
        .filter(selects)
        .collect();
    let [monitor] = monitors.as_slice() else {
        return vec![format!(
            "{} PodMonitors select the gateway's data plane in {} (labels {:?}), want exactly one",
            monitors.len(),
            pod.namespace,
            pod.labels
        )];
    };
    let mut problems = Vec::new();
    let spec = &monitor["spec"];
    let job_of = spec["jobLabel"]
        .as_str()
        .and_then(|label| pod.labels.get(label))
        .and_then(Value::as_str);
    if job_of != Some(job) {
        problems.push(format!(
            "PodMonitor {}: the data plane's job would be {job_of:?}, the rules select job=\"{job}\"",
            monitor["metadata"]["name"]
        ));
    }
    let scraped = spec["podMetricsEndpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            e["path"].as_str().unwrap_or("/metrics") == "/metrics"
                && e["port"]
                    .as_str()
                    .is_some_and(|port| pod.port(port).is_some())
        });
    if !scraped {
        problems.push(format!(
            "PodMonitor {}: no endpoint scrapes a container port of the data plane at /metrics",
            monitor["metadata"]["name"]
        ));
    }
    problems
}

/// promtool evaluates rule groups in map order unless a test file names them in
/// `group_eval_order`; a group that reads another group's recorded series then sees it one
/// evaluation late on some runs only (a CI flake). Every test file must name every group, each
/// after the groups whose series it reads.
pub fn promtool_eval_order_problems(rules: &[Rule], tests: &[Value]) -> Vec<String> {
    let mut groups: Vec<&str> = Vec::new();
    for rule in rules {
        if !groups.contains(&rule.group.as_str()) {
            groups.push(&rule.group);
        }
    }
    let recorded_by = |series: &str| {
        rules
            .iter()
            .find(|r| r.record.as_deref() == Some(series))
            .map(|r| r.group.as_str())
    };
    let mut problems = Vec::new();
    for (index, file) in tests.iter().enumerate() {
        let order: Vec<&str> = file["group_eval_order"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for group in &groups {
            let Some(position) = order.iter().position(|g| g == group) else {
                problems.push(format!(
                    "test file #{index}: group_eval_order does not name {group}"
                ));
                continue;
            };
            for rule in rules.iter().filter(|r| r.group == *group) {
                for reads in promql::references(&rule.expr)
                    .metrics()
                    .iter()
                    .filter_map(|name| recorded_by(name))
                    .filter(|source| source != group)
                {
                    if order.iter().position(|g| *g == reads) > Some(position) {
                        problems.push(format!(
                            "test file #{index}: {group} is evaluated before {reads}, whose series it reads"
                        ));
                    }
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}
