//! What observability/ ships, read from its rendered objects: the Prometheus rules, the Grafana
//! dashboards and the PromQL they contain; plus the canary analysis queries from deploy/.

pub mod checks;
pub mod loopback;
pub mod network;
pub mod platform_alerts;
pub mod promql;

use crate::{render, repo_root};
use serde_json::{Map, Value};

/// Where every alert's runbook_url must point (a page under docs/runbooks/).
pub const RUNBOOK_URL_PREFIX: &str =
    "https://github.com/greeter-gitops/greeter-gitops/blob/main/docs/runbooks/";

/// The objects Argo CD syncs from observability/.
pub fn rendered() -> Vec<Value> {
    render(&repo_root().join("observability"))
}

/// One recording or alerting rule of a PrometheusRule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub group: String,
    pub record: Option<String>,
    pub alert: Option<String>,
    pub expr: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
}

pub fn prometheus_rules(objects: &[Value]) -> Vec<&Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == "PrometheusRule")
        .collect()
}

/// Every rule of every PrometheusRule, in order.
pub fn rules(objects: &[Value]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for object in prometheus_rules(objects) {
        for group in object["spec"]["groups"]
            .as_array()
            .expect("spec.groups is a list")
        {
            for rule in group["rules"].as_array().expect("groups[].rules is a list") {
                let text = |key: &str| rule[key].as_str().map(str::to_string);
                let map = |key: &str| rule[key].as_object().cloned().unwrap_or_default();
                rules.push(Rule {
                    group: text_of(&group["name"]),
                    record: text("record"),
                    alert: text("alert"),
                    expr: text_of(&rule["expr"]),
                    labels: map("labels"),
                    annotations: map("annotations"),
                });
            }
        }
    }
    rules
}

/// The `.spec` of each PrometheusRule as a plain Prometheus rule file: (metadata.name, YAML).
pub fn rule_files(objects: &[Value]) -> Vec<(String, String)> {
    prometheus_rules(objects)
        .into_iter()
        .map(|o| {
            let name = text_of(&o["metadata"]["name"]);
            (
                name,
                serde_yaml_ng::to_string(&o["spec"]).expect("a rule spec serializes"),
            )
        })
        .collect()
}

/// A Grafana dashboard shipped as a sidecar ConfigMap: (ConfigMap name, data key, dashboard JSON).
pub struct Dashboard {
    pub config_map: String,
    pub key: String,
    pub json: Value,
}

/// Every dashboard in a ConfigMap labelled for Grafana's sidecar; panics on a key that is not JSON.
pub fn dashboards(objects: &[Value]) -> Vec<Dashboard> {
    let mut dashboards = Vec::new();
    for object in objects.iter().filter(|o| o["kind"] == "ConfigMap") {
        if object["metadata"]["labels"]["grafana_dashboard"] != "1" {
            continue;
        }
        for (key, text) in object["data"].as_object().into_iter().flatten() {
            let json =
                serde_json::from_str(text.as_str().unwrap_or_default()).unwrap_or_else(|e| {
                    panic!(
                        "{key} in ConfigMap {} is not JSON: {e}",
                        object["metadata"]["name"]
                    )
                });
            dashboards.push(Dashboard {
                config_map: text_of(&object["metadata"]["name"]),
                key: key.clone(),
                json,
            });
        }
    }
    dashboards
}

/// One query of a dashboard panel (rows' nested panels included).
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub panel: String,
    pub expr: String,
}

pub fn panel_queries(dashboard: &Value) -> Vec<PanelQuery> {
    fn walk(title: &str, panels: &Value, out: &mut Vec<PanelQuery>) {
        for panel in panels.as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                out.push(PanelQuery {
                    dashboard: title.to_string(),
                    panel: text_of(&panel["title"]),
                    expr: text_of(&target["expr"]),
                });
            }
            walk(title, &panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(
        &text_of(&dashboard["title"]),
        &dashboard["panels"],
        &mut out,
    );
    out
}

/// Replaces Grafana variables (`$name`, `${name}`) with values; `vars` lists (name, value) and
/// must cover every variable the expression uses (a leftover `$` panics).
pub fn substitute_variables(expr: &str, vars: &[(&str, &str)]) -> String {
    let mut out = expr.to_string();
    // Longest names first so that `$namespace_x` is never cut by `$namespace`.
    let mut vars = vars.to_vec();
    vars.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    for (name, value) in vars {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    // "$1" in label_replace is a regex reference, not a variable.
    let leftover = out
        .match_indices('$')
        .find(|(i, _)| !out[i + 1..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(
        leftover.is_none(),
        "unsubstituted Grafana variable in: {out}"
    );
    out
}

/// The AnalysisTemplate `greeter-canary-analysis` as one overlay renders it: (metric name, query).
pub fn analysis_queries(overlay: &str) -> Vec<(String, String)> {
    let objects = render(&repo_root().join("deploy/overlays").join(overlay));
    let template = objects
        .iter()
        .find(|o| {
            o["kind"] == "AnalysisTemplate" && o["metadata"]["name"] == "greeter-canary-analysis"
        })
        .unwrap_or_else(|| {
            panic!("deploy/overlays/{overlay} renders no AnalysisTemplate greeter-canary-analysis")
        });
    template["spec"]["metrics"]
        .as_array()
        .expect("spec.metrics is a list")
        .iter()
        .map(|m| {
            (
                text_of(&m["name"]),
                text_of(&m["provider"]["prometheus"]["query"]),
            )
        })
        .collect()
}

/// Substitutes `{{args.NAME}}` as Argo Rollouts does; a leftover `{{` panics.
pub fn substitute_args(query: &str, args: &[(&str, &str)]) -> String {
    let mut out = query.to_string();
    for (name, value) in args {
        out = out
            .replace(&format!("{{{{args.{name}}}}}"), value)
            .replace(&format!("{{{{ args.{name} }}}}"), value);
    }
    assert!(
        !out.contains("{{"),
        "unsubstituted argument in AnalysisTemplate query: {out}"
    );
    out
}

fn text_of(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_default()
}

/// A data key of a rendered ConfigMap; panics when the ConfigMap or key is missing.
pub fn config_map_data<'a>(objects: &'a [Value], name: &str, key: &str) -> &'a str {
    objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
        .and_then(|o| o["data"][key].as_str())
        .unwrap_or_else(|| panic!("observability/ renders no ConfigMap {name} with key {key}"))
}

/// The top-level JSON fields of the service's log lines that the log shipper (Alloy's
/// `stage.json` in ConfigMap alloy-config) extracts.
pub fn shipped_log_fields(objects: &[Value]) -> Vec<String> {
    let config = config_map_data(objects, "alloy-config", "config.alloy");
    let stage = &config[config
        .find("stage.json")
        .expect("config.alloy has a stage.json block")..];
    let block = &stage[stage
        .find("expressions")
        .expect("stage.json has expressions")..];
    let block = &block[block.find('{').expect("expressions is a map") + 1
        ..block.find('}').expect("expressions map closes")];
    let fields: Vec<String> = block
        .split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(_, source)| {
            source
                .trim()
                .trim_matches('"')
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(!fields.is_empty(), "stage.json extracts nothing");
    fields
}
