//! Generic lookups over rendered Kubernetes objects (`serde_json::Value`s): identity, lookup by
//! kind/name, pod specs of workloads, label selectors. Shared by every policy test area.

use serde_json::{Map, Value};

/// `metadata.name`, or "" when missing.
pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `kind`, or "" when missing.
pub fn kind(obj: &Value) -> &str {
    obj["kind"].as_str().unwrap_or("")
}

/// `metadata.namespace`, or "" for cluster-scoped (or not yet namespaced) objects.
pub fn namespace(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// "Kind/name", for violation messages.
pub fn id(obj: &Value) -> String {
    format!("{}/{}", kind(obj), name(obj))
}

/// All objects of one kind.
pub fn of_kind<'a>(objs: &'a [Value], kind_name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    objs.iter().filter(move |o| kind(o) == kind_name)
}

/// The object of this kind and name, if rendered.
pub fn find<'a>(objs: &'a [Value], kind_name: &str, obj_name: &str) -> Option<&'a Value> {
    objs.iter()
        .find(|o| kind(o) == kind_name && name(o) == obj_name)
}

/// Mutable lookup, for tests that break a rendered tree in memory.
pub fn find_mut<'a>(
    objs: &'a mut [Value],
    kind_name: &str,
    obj_name: &str,
) -> Option<&'a mut Value> {
    objs.iter_mut()
        .find(|o| kind(o) == kind_name && name(o) == obj_name)
}

/// JSON pointer to the pod template of a workload kind, if it has one (a bare Pod is its own).
pub fn pod_template_pointer(kind_name: &str) -> Option<&'static str> {
    match kind_name {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "Rollout" => {
            Some("/spec/template")
        }
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        "Pod" => Some(""),
        _ => None,
    }
}

/// The pod template (`metadata` + `spec`) of a workload; `None` for non-workloads and for
/// Rollouts that use `workloadRef` instead of an inline template. An AnalysisTemplate with a job
/// metric is a workload too (Argo Rollouts runs that Job during the analysis); each template
/// here has at most one (policy::deploy::canary::synthetic_traffic).
pub fn pod_template(obj: &Value) -> Option<&Value> {
    if kind(obj) == "AnalysisTemplate" {
        return obj["spec"]["metrics"]
            .as_array()?
            .iter()
            .find_map(|m| m.pointer("/provider/job/spec/template"));
    }
    pod_template_pointer(kind(obj)).and_then(|p| obj.pointer(p))
}

/// The pod spec of a workload (or of a bare Pod).
pub fn pod_spec(obj: &Value) -> Option<&Value> {
    pod_template(obj).and_then(|t| t.get("spec"))
}

/// Every workload with an inline pod spec, paired with it.
pub fn workloads(objs: &[Value]) -> impl Iterator<Item = (&Value, &Value)> {
    objs.iter()
        .filter_map(|o| pod_spec(o).map(|spec| (o, spec)))
}

/// Labels of the pods a workload creates.
pub fn pod_labels(obj: &Value) -> Map<String, Value> {
    pod_template(obj)
        .and_then(|t| t.pointer("/metadata/labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Containers and init containers of a pod spec.
pub fn containers(pod_spec: &Value) -> impl Iterator<Item = &Value> {
    ["containers", "initContainers"]
        .into_iter()
        .filter_map(|field| pod_spec.get(field).and_then(Value::as_array))
        .flatten()
}

/// Whether a map-style selector (`Service.spec.selector`, `matchLabels`) matches the labels.
/// An empty selector matches everything.
pub fn labels_match(selector: &Map<String, Value>, labels: &Map<String, Value>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether a `metav1.LabelSelector` (`matchLabels` and `matchExpressions`) matches the labels.
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    labels_match(&match_labels, labels)
        && expressions.iter().all(|e| {
            let key = e["key"].as_str().unwrap_or("");
            let values: Vec<&Value> = e["values"]
                .as_array()
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            match e["operator"].as_str().unwrap_or("") {
                "In" => labels.get(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => labels.get(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => labels.contains_key(key),
                "DoesNotExist" => !labels.contains_key(key),
                _ => false,
            }
        })
}

/// Workloads whose pods the map-style selector matches (an empty selector matches none here:
/// a Service or PDB without a selector selects nothing by design).
pub fn workloads_selected_by<'a>(
    objs: &'a [Value],
    selector: &Map<String, Value>,
) -> Vec<&'a Value> {
    if selector.is_empty() {
        return Vec::new();
    }
    workloads(objs)
        .map(|(w, _)| w)
        .filter(|w| labels_match(selector, &pod_labels(w)))
        .collect()
}

/// Names of all container ports (and their numbers) of the pods of a workload.
pub fn container_ports(obj: &Value) -> Vec<(String, i64)> {
    pod_spec(obj)
        .into_iter()
        .flat_map(containers)
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_string(),
                p["containerPort"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

/// Whether a port reference (a name or a number, as in `targetPort`) exists on the workload.
pub fn has_port(obj: &Value, port: &Value) -> bool {
    let ports = container_ports(obj);
    match port {
        Value::String(n) => ports.iter().any(|(name, _)| name == n),
        Value::Number(n) => ports.iter().any(|(_, number)| Some(*number) == n.as_i64()),
        _ => false,
    }
}

/// A Kubernetes resource quantity as a number ("250m" → 0.25, "128Mi" → 134217728, "1G" → 1e9).
pub fn quantity(q: &Value) -> Option<f64> {
    if let Some(n) = q.as_f64() {
        return Some(n);
    }
    let s = q.as_str()?;
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}
