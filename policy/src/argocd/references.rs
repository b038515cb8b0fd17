//! References from what the Applications render to what the platform provides, judged on what
//! the platform really renders (charts included, see `crate::platform`): the ClusterIssuer and
//! GatewayClass a Gateway names, a Prometheus selecting every ServiceMonitor/PodMonitor/
//! PrometheusRule/Probe, and a Service behind the OTLP endpoint. What the charts mount is the
//! convergence check's (`crate::platform`).

use super::model::{id, kind, name, str_at, App, Rendered};
use super::THIS_REPO;
use crate::objects::{namespace, selector_matches};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The merged Helm values of an Application: its value files from this repository (through a
/// `$ref` source) in order, then `helm.valuesObject`, with Helm's semantics (maps merge, `null`
/// deletes a key).
pub fn helm_values(app: &App, repo_root: &Path) -> Result<Value, String> {
    let sources = app.sources();
    let mut values = Value::Object(Map::new());
    for source in sources.iter().filter(|s| s.get("chart").is_some()) {
        let files = source
            .pointer("/helm/valueFiles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for file in files.filter_map(Value::as_str) {
            let Some((reference, path)) = file.strip_prefix('$').and_then(|f| f.split_once('/'))
            else {
                return Err(format!(
                    "{}: value file {file} is not read from this repository",
                    app.origin
                ));
            };
            if !sources
                .iter()
                .any(|s| str_at(s, "/ref") == reference && str_at(s, "/repoURL") == THIS_REPO)
            {
                return Err(format!(
                    "{}: value file {file} is not read from this repository",
                    app.origin
                ));
            }
            let text = std::fs::read_to_string(repo_root.join(path))
                .map_err(|e| format!("{}: {file}: {e}", app.origin))?;
            let parsed: Value = serde_yaml_ng::from_str(&text)
                .map_err(|e| format!("{}: {file}: {e}", app.origin))?;
            merge(&mut values, parsed);
        }
        if let Some(inline) = source.pointer("/helm/valuesObject") {
            merge(&mut values, inline.clone());
        }
    }
    Ok(values)
}

fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                if value.is_null() {
                    base.remove(&key);
                } else {
                    merge(base.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Every object any Application renders, with the namespace it lands in (its own, else the
/// Application's destination).
fn everything<'a>(apps: &'a [App], rendered: &'a Rendered) -> Vec<(&'a App, &'a str, &'a Value)> {
    apps.iter()
        .flat_map(|app| {
            rendered
                .get(&app.name)
                .into_iter()
                .flatten()
                .map(move |obj| {
                    let own = namespace(obj);
                    let ns = if own.is_empty() {
                        app.destination_namespace()
                    } else {
                        own
                    };
                    (app, ns, obj)
                })
        })
        .collect()
}

/// Whether some rendered Prometheus selects a monitoring object (its `<kind>Selector` and
/// `<kind>NamespaceSelector`). Semantics from the Prometheus CRD of Prometheus Operator v0.93.0
/// (schemas/crds/monitoring.coreos.com/prometheus_v1.json, field descriptions): an empty selector
/// matches everything, a null one nothing — except a null namespace selector, which matches the
/// Prometheus' own namespace.
fn selected_by_prometheus(
    obj: &Value,
    obj_namespace: &str,
    prometheuses: &[(&str, &Value)],
    namespace_labels: &BTreeMap<&str, Map<String, Value>>,
) -> bool {
    let selector = match kind(obj) {
        "ServiceMonitor" => "serviceMonitor",
        "PodMonitor" => "podMonitor",
        "PrometheusRule" => "rule",
        _ => "probe",
    };
    let labels = obj["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    // Every namespace carries kubernetes.io/metadata.name (NamespaceDefaultLabelName, GA in 1.22).
    let mut ns_labels = namespace_labels
        .get(obj_namespace)
        .cloned()
        .unwrap_or_default();
    ns_labels.insert(
        "kubernetes.io/metadata.name".into(),
        Value::String(obj_namespace.into()),
    );
    prometheuses
        .iter()
        .any(|(prometheus_namespace, prometheus)| {
            let spec = &prometheus["spec"];
            let objects = &spec[format!("{selector}Selector")];
            let namespaces = &spec[format!("{selector}NamespaceSelector")];
            let in_namespace = if namespaces.is_null() {
                *prometheus_namespace == obj_namespace
            } else {
                selector_matches(namespaces, &ns_labels)
            };
            !objects.is_null() && selector_matches(objects, &labels) && in_namespace
        })
}

/// What the Applications render refers to exists as the platform renders it: the ClusterIssuer
/// a Gateway names (cert-manager's gateway-shim reads the annotation), a GatewayClass of its
/// gatewayClassName, a Prometheus selecting every ServiceMonitor/PodMonitor/PrometheusRule/Probe, a
/// Service port behind every OTEL_EXPORTER_OTLP_ENDPOINT. `rendered` holds every Application's
/// objects, charts included.
pub fn platform_references(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    let all = everything(apps, rendered);
    let of = |wanted: &'static str| all.iter().filter(move |(_, _, o)| kind(o) == wanted);
    let issuers: Vec<&str> = objects
        .iter()
        .chain(all.iter().map(|(_, _, o)| *o))
        .filter(|o| kind(o) == "ClusterIssuer")
        .map(name)
        .collect();
    let gateway_classes: Vec<&str> = of("GatewayClass").map(|(_, _, o)| name(o)).collect();
    let prometheuses: Vec<(&str, &Value)> = of("Prometheus").map(|(_, ns, o)| (*ns, *o)).collect();
    let namespace_labels: BTreeMap<&str, Map<String, Value>> = of("Namespace")
        .map(|(_, _, o)| {
            let labels = o["metadata"]["labels"].as_object().cloned();
            (name(o), labels.unwrap_or_default())
        })
        .collect();
    let serves = |service: &str, service_namespace: &str, port: i64| {
        of("Service").any(|(_, ns, s)| {
            *ns == service_namespace
                && name(s) == service
                && s["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["port"].as_i64() == Some(port))
        })
    };
    let mut violations = Vec::new();
    for (app, obj_namespace, obj) in &all {
        let at = format!("{} {}", app.origin, id(obj));
        match kind(obj) {
            "Gateway" => {
                let issuer = str_at(obj, "/metadata/annotations/cert-manager.io~1cluster-issuer");
                if !issuer.is_empty() && !issuers.contains(&issuer) {
                    violations.push(format!(
                        "{at}: cluster-issuer {issuer} is not a ClusterIssuer in argocd/"
                    ));
                }
                let class = str_at(obj, "/spec/gatewayClassName");
                if !gateway_classes.contains(&class) {
                    violations.push(format!(
                        "{at}: gatewayClassName {class:?} is not a GatewayClass any Application renders ({gateway_classes:?})"
                    ));
                }
            }
            "ServiceMonitor" | "PodMonitor" | "PrometheusRule" | "Probe"
                if !selected_by_prometheus(
                    obj,
                    obj_namespace,
                    &prometheuses,
                    &namespace_labels,
                ) =>
            {
                violations.push(format!("{at}: is not selected by any Prometheus"));
            }
            "ConfigMap" => {
                let endpoint = str_at(obj, "/data/OTEL_EXPORTER_OTLP_ENDPOINT");
                if endpoint.is_empty() {
                    continue;
                }
                let address = endpoint
                    .trim_start_matches("http://")
                    .trim_start_matches("https://")
                    .trim_end_matches('/');
                let (host, port) = address.rsplit_once(':').unwrap_or((address, ""));
                let mut parts = host.split('.');
                let service = parts.next().unwrap_or("");
                let service_namespace = parts.next().unwrap_or(obj_namespace);
                if !port
                    .parse()
                    .is_ok_and(|p| serves(service, service_namespace, p))
                {
                    violations.push(format!(
                        "{at}: OTEL_EXPORTER_OTLP_ENDPOINT {endpoint} is no port of a Service any Application renders"
                    ));
                }
            }
            _ => {}
        }
    }
    violations
}
