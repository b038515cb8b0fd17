//! The alerts kube-prometheus-stack ships as default rules, from a real render of the chart version
//! the platform pins with the platform's values (`scripts/charts render`: the `helm template` Argo CD
//! runs), so the routing tests cover every alert the cluster's Prometheus will send, with the labels
//! it will carry.

use crate::objects::of_kind;
use crate::{parse_documents, repo_root};
use serde_json::Value;
use std::process::Command;

const APPLICATION: &str = "kube-prometheus-stack";

/// One alerting rule of the chart: its name and the severity label it carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlatformAlert {
    pub name: String,
    pub severity: String,
}

/// Every default alert the kube-prometheus-stack Application renders.
pub fn kube_prometheus_stack_alerts() -> Vec<PlatformAlert> {
    let output = Command::new(repo_root().join("scripts/charts"))
        .args(["render", APPLICATION])
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/charts: {e}"));
    assert!(
        output.status.success(),
        "scripts/charts render {APPLICATION} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let objects = parse_documents(&String::from_utf8_lossy(&output.stdout))
        .unwrap_or_else(|e| panic!("{APPLICATION} renders invalid YAML: {e}"));
    alerts_of(&objects)
}

/// The alerting rules of every PrometheusRule with their severity. Panics on an alert without one:
/// an alert the routing tests would otherwise miss.
pub fn alerts_of(objects: &[Value]) -> Vec<PlatformAlert> {
    of_kind(objects, "PrometheusRule")
        .flat_map(|rule| {
            rule["spec"]["groups"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|rule| {
            let name = rule["alert"].as_str()?.to_string();
            let severity = rule["labels"]["severity"]
                .as_str()
                .unwrap_or_else(|| panic!("alert {name} has no severity label"))
                .to_string();
            Some(PlatformAlert { name, severity })
        })
        .collect()
}
