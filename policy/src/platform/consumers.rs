//! What a workload needs before its pods can start: every ConfigMap and Secret its pod spec names
//! without `optional: true` (a missing one keeps the pod in ContainerCreating or
//! CreateContainerConfigError), and for the Prometheus Operator's custom resources what the
//! operator mounts into the pods it builds from them.

use crate::objects::{containers, pod_spec};
use serde_json::{json, Value};

/// A ConfigMap or Secret a pod cannot start without.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub kind: &'static str,
    pub name: String,
    /// The keys it must have (empty: any content will do).
    pub keys: Vec<String>,
    /// Where the reference is, for messages.
    pub via: String,
}

/// Everything an object needs before its pods start (nothing for objects that run no pods).
pub fn needs(obj: &Value) -> Vec<Need> {
    match (
        obj["apiVersion"].as_str().unwrap_or(""),
        crate::objects::kind(obj),
    ) {
        (api, operator_kind) if api.starts_with("monitoring.coreos.com/") => {
            prometheus_operator_needs(operator_kind, obj)
        }
        _ => pod_spec(obj).map(pod_needs).unwrap_or_default(),
    }
}

/// The non-optional ConfigMap/Secret references of a pod spec: volumes (and projected volume
/// sources) with the keys their `items` pick, env `valueFrom` key references, `envFrom`.
pub fn pod_needs(spec: &Value) -> Vec<Need> {
    let mut found = Vec::new();
    let mut need = |kind, source: &Value, name_field: &str, keys: Vec<String>, via: String| {
        if source.is_object() && source["optional"] != true {
            let name = source[name_field].as_str().unwrap_or("").to_string();
            found.push(Need {
                kind,
                name,
                keys,
                via,
            });
        }
    };
    let items = |source: &Value| -> Vec<String> {
        let items = source["items"].as_array().into_iter().flatten();
        items
            .filter_map(|i| i["key"].as_str().map(String::from))
            .collect()
    };
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let via = format!("volume {}", volume["name"].as_str().unwrap_or("?"));
        need(
            "ConfigMap",
            &volume["configMap"],
            "name",
            items(&volume["configMap"]),
            via.clone(),
        );
        need(
            "Secret",
            &volume["secret"],
            "secretName",
            items(&volume["secret"]),
            via.clone(),
        );
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            need(
                "ConfigMap",
                &source["configMap"],
                "name",
                items(&source["configMap"]),
                via.clone(),
            );
            need(
                "Secret",
                &source["secret"],
                "name",
                items(&source["secret"]),
                via.clone(),
            );
        }
    }
    for container in containers(spec) {
        let container_name = container["name"].as_str().unwrap_or("?");
        for env in container["env"].as_array().into_iter().flatten() {
            let via = format!(
                "env {} of container {container_name}",
                env["name"].as_str().unwrap_or("?")
            );
            for (kind, field) in [("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")] {
                let source = &env["valueFrom"][field];
                let key = source["key"].as_str().map(String::from);
                need(kind, source, "name", key.into_iter().collect(), via.clone());
            }
        }
        for env_from in container["envFrom"].as_array().into_iter().flatten() {
            let via = format!("envFrom of container {container_name}");
            need(
                "ConfigMap",
                &env_from["configMapRef"],
                "name",
                Vec::new(),
                via.clone(),
            );
            need("Secret", &env_from["secretRef"], "name", Vec::new(), via);
        }
    }
    found
}

/// A model of the Prometheus Operator v0.93.0 (tools/upstream/prometheus-operator): the pods it
/// builds for an Alertmanager or a Prometheus mount
/// - each `spec.secrets` entry as a Secret volume and each `spec.configMaps` entry as a ConfigMap
///   volume, neither optional (pkg/alertmanager/statefulset.go:590-640; for Prometheus and
///   PrometheusAgent pkg/prometheus/common.go:279-325 `BuildCommonVolumes`);
/// - `spec.volumes` appended to the pod's (pkg/alertmanager/statefulset.go:174,
///   pkg/prometheus/server/statefulset.go:145) and `spec.containers`/`spec.initContainers` merged
///   into the pod's containers (pkg/alertmanager/statefulset.go:769,790).
///
/// An Alertmanager also reads its configuration from Secret `spec.configSecret` (default
/// `alertmanager-<name>`), key `alertmanager.yaml`; without it the operator runs Alertmanager with
/// a configuration whose only receiver is "null" (pkg/alertmanager/statefulset.go:845-851,
/// pkg/alertmanager/operator.go:852-891): the pods start, but every alert is dropped.
fn prometheus_operator_needs(operator_kind: &str, obj: &Value) -> Vec<Need> {
    if !matches!(
        operator_kind,
        "Alertmanager" | "Prometheus" | "PrometheusAgent"
    ) {
        return Vec::new();
    }
    let spec = &obj["spec"];
    let names = |field: &str| -> Vec<String> {
        let entries = spec[field].as_array().into_iter().flatten();
        entries
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    };
    let operator_pod = json!({
        "volumes": spec["volumes"],
        "containers": spec["containers"],
        "initContainers": spec["initContainers"],
    });
    let mut found = pod_needs(&operator_pod);
    for (kind, field) in [("Secret", "secrets"), ("ConfigMap", "configMaps")] {
        found.extend(names(field).into_iter().map(|name| Need {
            kind,
            name,
            keys: Vec::new(),
            via: format!("spec.{field} (mounted by the Prometheus Operator)"),
        }));
    }
    if operator_kind == "Alertmanager" {
        let configured = spec["configSecret"].as_str().filter(|s| !s.is_empty());
        let own_name = crate::objects::name(obj);
        found.push(Need {
            kind: "Secret",
            name: configured.map_or_else(|| format!("alertmanager-{own_name}"), String::from),
            keys: vec!["alertmanager.yaml".into()],
            via:
                "spec.configSecret (Alertmanager's configuration, read by the Prometheus Operator)"
                    .into(),
        });
    }
    found
}
