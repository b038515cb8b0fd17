//! References from what the Applications render to what the platform provides: ClusterIssuers,
//! the IngressClass, Prometheus' selection of monitoring objects and the OTLP collector endpoint.

use super::model::{id, kind, name, of_kind, str_at, App, Rendered};
use super::THIS_REPO;
use serde_json::{Map, Value};
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

/// The Application installing a chart, with its release name and merged values.
fn chart_app<'a>(
    apps: &'a [App],
    chart: &str,
    repo_root: &Path,
) -> Option<(&'a App, String, Result<Value, String>)> {
    apps.iter().find_map(|app| {
        let source = app
            .sources()
            .into_iter()
            .find(|s| str_at(s, "/chart") == chart)?;
        let release = Some(str_at(source, "/helm/releaseName"))
            .filter(|r| !r.is_empty())
            .unwrap_or(&app.name)
            .to_string();
        Some((app, release, helm_values(app, repo_root)))
    })
}

/// What the overlays and observability/ render refers to exists as the platform provides it:
/// the ClusterIssuer an Ingress names, the IngressClass ingress-nginx creates, Prometheus selecting
/// every ServiceMonitor/PodMonitor/PrometheusRule, and the OTLP endpoint pointing at the collector.
pub fn platform_references(
    apps: &[App],
    objects: &[Value],
    rendered: &Rendered,
    repo_root: &Path,
) -> Vec<String> {
    let mut violations = Vec::new();
    let mut values_of = |chart: &str| match chart_app(apps, chart, repo_root) {
        None => None,
        Some((app, release, Ok(values))) => Some((app, release, values)),
        Some((_, _, Err(e))) => {
            violations.push(e);
            None
        }
    };
    let ingress_class = values_of("ingress-nginx").map(|(_, _, v)| {
        Some(str_at(&v, "/controller/ingressClassResource/name"))
            .filter(|n| !n.is_empty())
            .unwrap_or("nginx")
            .to_string()
    });
    let prometheus = values_of("kube-prometheus-stack").map(|(_, release, v)| (release, v));
    let collector = values_of("opentelemetry-collector").map(|(app, release, v)| {
        let fullname = match str_at(&v, "/fullnameOverride") {
            "" if release.contains("opentelemetry-collector") => release,
            "" => format!("{release}-opentelemetry-collector"),
            set => set.to_string(),
        };
        format!("{fullname}.{}.svc:4318", app.destination_namespace())
    });
    let issuers: Vec<&str> = of_kind(objects, "ClusterIssuer").map(name).collect();
    for app in apps {
        for obj in rendered.get(&app.name).into_iter().flatten() {
            let at = format!("{} {}", app.origin, id(obj));
            match kind(obj) {
                "Ingress" => {
                    let issuer =
                        str_at(obj, "/metadata/annotations/cert-manager.io~1cluster-issuer");
                    if !issuer.is_empty() && !issuers.contains(&issuer) {
                        violations.push(format!(
                            "{at}: cluster-issuer {issuer} is not a ClusterIssuer in argocd/"
                        ));
                    }
                    let class = str_at(obj, "/spec/ingressClassName");
                    match &ingress_class {
                        Some(provided) if provided == class => {}
                        Some(provided) => violations.push(format!(
                            "{at}: ingressClassName {class:?} is not the class ingress-nginx provides ({provided:?})"
                        )),
                        None => violations.push(format!("{at}: no ingress-nginx Application provides an IngressClass")),
                    }
                }
                "ServiceMonitor" | "PodMonitor" | "PrometheusRule" | "Probe" => {
                    let selector = match kind(obj) {
                        "ServiceMonitor" => "serviceMonitor",
                        "PodMonitor" => "podMonitor",
                        "PrometheusRule" => "rule",
                        _ => "probe",
                    };
                    let selected = prometheus.as_ref().is_some_and(|(release, values)| {
                        let pointer = format!(
                            "/prometheus/prometheusSpec/{selector}SelectorNilUsesHelmValues"
                        );
                        values.pointer(&pointer) == Some(&Value::Bool(false))
                            || str_at(obj, "/metadata/labels/release") == release.as_str()
                    });
                    if !selected {
                        violations.push(format!(
                            "{at}: is not selected by Prometheus (kube-prometheus-stack values)"
                        ));
                    }
                }
                "ConfigMap" => {
                    let endpoint = str_at(obj, "/data/OTEL_EXPORTER_OTLP_ENDPOINT");
                    if endpoint.is_empty() {
                        continue;
                    }
                    let target = endpoint
                        .strip_prefix("http://")
                        .unwrap_or(endpoint)
                        .trim_end_matches('/');
                    let target = target.replace(".svc.cluster.local:", ".svc:");
                    match &collector {
                        Some(expected) if *expected == target => {}
                        Some(expected) => violations.push(format!(
                            "{at}: OTEL_EXPORTER_OTLP_ENDPOINT {endpoint} is not the collector (http://{expected})"
                        )),
                        None => violations.push(format!("{at}: no opentelemetry-collector Application serves {endpoint}")),
                    }
                }
                _ => {}
            }
        }
    }
    violations.extend(mounted_objects(apps, rendered, repo_root));
    violations
}

/// A ConfigMap or Secret that a platform chart mounts by name, as its values say.
struct Mount {
    chart: &'static str,
    kind: &'static str,
    name: String,
    key: Option<String>,
}

/// What the platform charts mount from objects this repository renders (pipelines, Alertmanager
/// routing, Grafana credentials), read from their merged values.
fn mounts(chart: &'static str, values: &Value) -> Vec<Mount> {
    let text = |pointer: &str| str_at(values, pointer).to_string();
    let mount = |kind, name: String, key: Option<String>| Mount {
        chart,
        kind,
        name,
        key,
    };
    let created = |pointer: &str| values.pointer(pointer) != Some(&Value::Bool(false));
    let names = |pointer: &str| {
        let items = values
            .pointer(pointer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        items
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let mut found = Vec::new();
    match chart {
        "opentelemetry-collector" if !created("/configMap/create") => {
            found.push(mount(
                "ConfigMap",
                text("/configMap/existingName"),
                Some("relay".into()),
            ));
        }
        "alloy" if !created("/alloy/configMap/create") => {
            let key = Some(text("/alloy/configMap/key"))
                .filter(|k| !k.is_empty())
                .unwrap_or("config.alloy".into());
            found.push(mount("ConfigMap", text("/alloy/configMap/name"), Some(key)));
        }
        "kube-prometheus-stack" => {
            let spec = "/alertmanager/alertmanagerSpec";
            let config_secret = text(&format!("{spec}/configSecret"));
            if !config_secret.is_empty() {
                found.push(mount(
                    "Secret",
                    config_secret,
                    Some("alertmanager.yaml".into()),
                ));
            }
            found.extend(
                names(&format!("{spec}/secrets"))
                    .into_iter()
                    .map(|n| mount("Secret", n, None)),
            );
            found.extend(
                names(&format!("{spec}/configMaps"))
                    .into_iter()
                    .map(|n| mount("ConfigMap", n, None)),
            );
            let grafana_admin = text("/grafana/admin/existingSecret");
            if !grafana_admin.is_empty() {
                found.push(mount("Secret", grafana_admin, None));
            }
        }
        _ => {}
    }
    found
}

/// Every ConfigMap and Secret a platform chart mounts is rendered (a ConfigMap, or a Secret an
/// ExternalSecret produces) by some Application, in the chart's namespace, with the key it reads.
fn mounted_objects(apps: &[App], rendered: &Rendered, repo_root: &Path) -> Vec<String> {
    let mut violations = Vec::new();
    for chart in ["opentelemetry-collector", "alloy", "kube-prometheus-stack"] {
        let Some((app, _, Ok(values))) = chart_app(apps, chart, repo_root) else {
            continue;
        };
        let namespace = app.destination_namespace();
        for mount in mounts(chart, &values) {
            let provided = apps.iter().any(|other| {
                rendered.get(&other.name).into_iter().flatten().any(|obj| {
                    let obj_namespace = Some(str_at(obj, "/metadata/namespace"))
                        .filter(|n| !n.is_empty())
                        .unwrap_or(other.destination_namespace());
                    obj_namespace == namespace && provides(obj, &mount)
                })
            });
            if !provided {
                let key = mount
                    .key
                    .as_deref()
                    .map(|k| format!(" with key {k}"))
                    .unwrap_or_default();
                violations.push(format!(
                    "{}: {} mounts {} {}{key}, which no Application renders in namespace {namespace}",
                    app.origin, mount.chart, mount.kind, mount.name
                ));
            }
        }
    }
    violations
}

fn provides(obj: &Value, mount: &Mount) -> bool {
    let has_key = |data: Option<&Value>| {
        mount
            .key
            .as_ref()
            .is_none_or(|k| data.is_some_and(|d| d.get(k).is_some()))
    };
    match (kind(obj), mount.kind) {
        ("ConfigMap", "ConfigMap") | ("Secret", "Secret") => {
            name(obj) == mount.name && has_key(obj.get("data").or(obj.get("stringData")))
        }
        ("ExternalSecret", "Secret") => {
            let target = Some(str_at(obj, "/spec/target/name"))
                .filter(|n| !n.is_empty())
                .unwrap_or(name(obj));
            // Its keys depend on templates and dataFrom: only the Secret's name is checked.
            target == mount.name
        }
        _ => false,
    }
}
