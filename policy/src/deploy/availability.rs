//! Probes, shutdown budget, resources, HPA, PDB and topology spread.

use super::{Env, CONFIG_MAP, ROLLOUT};
use crate::objects::{
    containers, find, id, kind, name, of_kind, pod_labels, pod_spec, quantity, selector_matches,
    workloads,
};
use serde_json::Value;

/// Every container of a long-running pod has startup, liveness and readiness probes (a pod that
/// runs to completion, restartPolicy Never or OnFailure, serves nothing to probe).
pub fn probes(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for (w, spec) in workloads(objs) {
        if spec["restartPolicy"] == "Never" || spec["restartPolicy"] == "OnFailure" {
            continue;
        }
        // Init containers run to completion and take no probes.
        for c in spec["containers"].as_array().into_iter().flatten() {
            for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
                if !c[probe].is_object() {
                    v.push(format!(
                        "{} container {}: missing {probe}",
                        id(w),
                        c["name"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    v
}

/// The greeter container probes the service's endpoints (liveness/startup `/healthz`,
/// readiness `/readyz` on port `http`), and the grace period covers the shutdown budget:
/// SHUTDOWN_DELAY_SECONDS + SHUTDOWN_TIMEOUT_SECONDS + 2 s cleanup (service defaults 5 and 10).
pub fn greeter_probes_and_shutdown(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    let Some(rollout) = find(objs, "Rollout", ROLLOUT) else {
        return vec![format!("Rollout/{ROLLOUT} is not rendered")];
    };
    let spec = pod_spec(rollout).cloned().unwrap_or_default();
    let Some(c) = containers(&spec).find(|c| c["name"] == "greeter") else {
        return vec![format!("Rollout/{ROLLOUT}: no container named greeter")];
    };
    for (probe, path) in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ] {
        let get = &c[probe]["httpGet"];
        if get["path"] != path || get["port"] != "http" {
            v.push(format!(
                "Rollout/{ROLLOUT}: {probe} must GET {path} on port http, got {get}"
            ));
        }
    }
    let setting = |key: &str, default: i64| {
        of_kind(objs, "ConfigMap")
            .find(|cm| name(cm).starts_with(CONFIG_MAP))
            .and_then(|cm| cm["data"][key].as_str())
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let budget = setting("SHUTDOWN_DELAY_SECONDS", 5) + setting("SHUTDOWN_TIMEOUT_SECONDS", 10) + 2;
    let grace = spec["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
    if grace <= budget {
        v.push(format!("Rollout/{ROLLOUT}: terminationGracePeriodSeconds {grace} must exceed the shutdown budget {budget} s"));
    }
    v
}

/// Every container sets CPU and memory requests and a memory limit no lower than its request.
pub fn resources(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for (w, spec) in workloads(objs) {
        for c in containers(spec) {
            let r = &c["resources"];
            let (request, limit) = (
                quantity(&r["requests"]["memory"]),
                quantity(&r["limits"]["memory"]),
            );
            if let (Some(request), Some(limit)) = (request, limit) {
                if limit < request {
                    v.push(format!(
                        "{} container {}: memory limit below its request",
                        id(w),
                        c["name"].as_str().unwrap_or("?")
                    ));
                }
            }
            for field in ["/requests/cpu", "/requests/memory", "/limits/memory"] {
                if r.pointer(field).is_none_or(Value::is_null) {
                    v.push(format!(
                        "{} container {}: resources{} missing",
                        id(w),
                        c["name"].as_str().unwrap_or("?"),
                        field.replace('/', ".")
                    ));
                }
            }
        }
    }
    v
}

/// HPA (autoscaling/v2) on the Rollout with the environment's bounds, and the Rollout's
/// replicas equal to minReplicas so a sync never fights the HPA (argo-rollouts#3689).
pub fn autoscaling(env: Env, objs: &[Value]) -> Vec<String> {
    let (min, max) = env.replica_bounds();
    let hpas: Vec<&Value> = of_kind(objs, "HorizontalPodAutoscaler")
        .filter(|h| {
            h["spec"]["scaleTargetRef"]["kind"] == "Rollout"
                && h["spec"]["scaleTargetRef"]["name"] == ROLLOUT
        })
        .collect();
    let [hpa] = hpas.as_slice() else {
        return vec![format!(
            "expected exactly one HorizontalPodAutoscaler for Rollout/{ROLLOUT}, got {}",
            hpas.len()
        )];
    };
    let mut v = Vec::new();
    if hpa["apiVersion"] != "autoscaling/v2" {
        v.push(format!("{}: apiVersion must be autoscaling/v2", id(hpa)));
    }
    let (got_min, got_max) = (
        hpa["spec"]["minReplicas"].as_i64().unwrap_or(1),
        hpa["spec"]["maxReplicas"].as_i64().unwrap_or(0),
    );
    if (got_min, got_max) != (min, max) {
        v.push(format!(
            "{}: {} needs minReplicas {min} and maxReplicas {max}, got {got_min}-{got_max}",
            id(hpa),
            env.name()
        ));
    }
    let replicas = find(objs, "Rollout", ROLLOUT)
        .map(|r| r["spec"]["replicas"].clone())
        .unwrap_or_default();
    if replicas.as_i64() != Some(got_min) {
        v.push(format!("Rollout/{ROLLOUT}: spec.replicas {replicas} must equal the HPA's minReplicas {got_min}"));
    }
    v
}

/// Every Rollout and Deployment (the stateless, horizontally scaled workloads) has a PDB
/// selecting its pods, and no PDB blocks every eviction (minAvailable >= replicas or
/// maxUnavailable 0), which would stall node drains.
pub fn disruption_budgets(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    let pdbs: Vec<&Value> = of_kind(objs, "PodDisruptionBudget").collect();
    for (w, _) in workloads(objs).filter(|(w, _)| ["Rollout", "Deployment"].contains(&kind(w))) {
        let labels = pod_labels(w);
        let covering: Vec<&&Value> = pdbs
            .iter()
            .filter(|p| selector_matches(&p["spec"]["selector"], &labels))
            .collect();
        if covering.is_empty() {
            v.push(format!(
                "{}: no PodDisruptionBudget selects its pods",
                id(w)
            ));
        }
        let replicas = w["spec"]["replicas"].as_i64().unwrap_or(1);
        for p in covering {
            let blocks = match (&p["spec"]["minAvailable"], &p["spec"]["maxUnavailable"]) {
                (Value::Number(n), _) => n.as_i64().unwrap_or(0) >= replicas,
                (_, Value::Number(n)) => n.as_i64() == Some(0),
                (Value::String(s), _) => s == "100%",
                (_, Value::String(s)) => s == "0%",
                _ => false,
            };
            if blocks {
                v.push(format!(
                    "{}: blocks every voluntary eviction of {}",
                    id(p),
                    id(w)
                ));
            }
        }
    }
    v
}

/// Topology spread of the greeter pods: a soft spread across nodes everywhere; prod adds a hard
/// spread across zones, other environments must not block scheduling. Each constraint selects
/// the pods it spreads.
pub fn topology(env: Env, objs: &[Value]) -> Vec<String> {
    let Some(rollout) = find(objs, "Rollout", ROLLOUT) else {
        return vec![format!("Rollout/{ROLLOUT} is not rendered")];
    };
    let labels = pod_labels(rollout);
    let constraints = pod_spec(rollout)
        .and_then(|s| s["topologySpreadConstraints"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut v = Vec::new();
    let has = |key: &str, when: &str| {
        constraints
            .iter()
            .any(|c| c["topologyKey"] == key && c["whenUnsatisfiable"] == when)
    };
    if !has("kubernetes.io/hostname", "ScheduleAnyway") {
        v.push(format!(
            "Rollout/{ROLLOUT}: needs a soft (ScheduleAnyway) spread across kubernetes.io/hostname"
        ));
    }
    if env.zone_spread() && !has("topology.kubernetes.io/zone", "DoNotSchedule") {
        v.push(format!("Rollout/{ROLLOUT}: {} needs a hard (DoNotSchedule) spread across topology.kubernetes.io/zone", env.name()));
    }
    if !env.zone_spread()
        && constraints
            .iter()
            .any(|c| c["whenUnsatisfiable"] == "DoNotSchedule")
    {
        v.push(format!(
            "Rollout/{ROLLOUT}: {} must not use hard spread constraints",
            env.name()
        ));
    }
    for c in &constraints {
        if !selector_matches(&c["labelSelector"], &labels) {
            v.push(format!(
                "Rollout/{ROLLOUT}: spread constraint on {} does not select its own pods",
                c["topologyKey"]
            ));
        }
    }
    v
}

/// The greeter container's requests (CPU, memory) never shrink from dev to staging to prod.
pub fn resources_grow(envs: &[(Env, &[Value])]) -> Vec<String> {
    let requests = |objs: &[Value]| {
        let spec = find(objs, "Rollout", ROLLOUT)
            .and_then(pod_spec)
            .cloned()
            .unwrap_or_default();
        let c = containers(&spec)
            .find(|c| c["name"] == "greeter")
            .cloned()
            .unwrap_or_default();
        let r = &c["resources"]["requests"];
        (
            quantity(&r["cpu"]).unwrap_or(0.0),
            quantity(&r["memory"]).unwrap_or(0.0),
        )
    };
    let mut v = Vec::new();
    for pair in envs.windows(2) {
        let ((a, a_objs), (b, b_objs)) = (pair[0], pair[1]);
        let (ra, rb) = (requests(a_objs), requests(b_objs));
        if rb.0 < ra.0 || rb.1 < ra.1 {
            v.push(format!(
                "greeter requests shrink from {} {ra:?} to {} {rb:?}",
                a.name(),
                b.name()
            ));
        }
    }
    v
}
