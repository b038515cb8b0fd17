//! Referential integrity: every name one object uses to point at another resolves, in the same
//! rendered tree.

use super::GATEWAY_API_PLUGIN;
use crate::objects::{
    containers, find, has_port, id, name, of_kind, pod_labels, selector_matches, workloads,
    workloads_selected_by,
};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Every Service selector matches the pods of a workload, and every targetPort exists on them.
pub fn service_selectors(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for svc in of_kind(objs, "Service") {
        let Some(selector) = svc["spec"]["selector"].as_object() else {
            continue; // a selector-less Service is managed by hand (Endpoints), not by us
        };
        let selected = workloads_selected_by(objs, selector);
        if selected.is_empty() {
            v.push(format!(
                "{}: selector {} matches no pods",
                id(svc),
                Value::Object(selector.clone())
            ));
        }
        for port in svc["spec"]["ports"].as_array().into_iter().flatten() {
            let target = if port["targetPort"].is_null() {
                &port["port"]
            } else {
                &port["targetPort"]
            };
            for w in selected.iter().filter(|w| !has_port(w, target)) {
                v.push(format!(
                    "{}: targetPort {target} does not exist on {}",
                    id(svc),
                    id(w)
                ));
            }
        }
    }
    v
}

/// The Services and port numbers an HTTPRoute sends traffic to (backendRefs of every rule; a
/// backendRef without kind and group is a Service).
pub fn route_backends(route: &Value) -> Vec<(String, Value)> {
    let rules = route["spec"]["rules"].as_array().into_iter().flatten();
    rules
        .flat_map(|r| r["backendRefs"].as_array().into_iter().flatten())
        .filter(|b| {
            b["kind"].as_str().unwrap_or("Service") == "Service"
                && b["group"].as_str().unwrap_or("").is_empty()
        })
        .filter_map(|b| Some((b["name"].as_str()?.to_string(), b["port"].clone())))
        .collect()
}

/// Every HTTPRoute attaches to a listener of a Gateway in the tree (parentRefs in the same
/// namespace, sectionName naming a listener), and sends traffic only to Services of the tree, on
/// ports they expose.
pub fn route_references(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for route in of_kind(objs, "HTTPRoute") {
        for parent in route["spec"]["parentRefs"].as_array().into_iter().flatten() {
            let gateway = parent["name"].as_str().unwrap_or("");
            let listener = parent["sectionName"].as_str();
            if !parent["namespace"].is_null()
                || parent["kind"].as_str().unwrap_or("Gateway") != "Gateway"
            {
                v.push(format!(
                    "{}: parentRef {parent} is not a Gateway of this namespace",
                    id(route)
                ));
                continue;
            }
            match find(objs, "Gateway", gateway) {
                None => v.push(format!("{}: Gateway {gateway} does not exist", id(route))),
                Some(gw) => {
                    let listeners = gw["spec"]["listeners"].as_array().into_iter().flatten();
                    if let Some(section) =
                        listener.filter(|s| !{ listeners }.any(|l| l["name"] == *s))
                    {
                        v.push(format!(
                            "{}: Gateway {gateway} has no listener {section}",
                            id(route)
                        ));
                    }
                }
            }
        }
        let rules = route["spec"]["rules"].as_array().into_iter().flatten();
        for backend in rules.flat_map(|r| r["backendRefs"].as_array().into_iter().flatten()) {
            if !backend["namespace"].is_null() {
                v.push(format!(
                    "{}: backendRef {} leaves the namespace",
                    id(route),
                    backend["name"]
                ));
            }
        }
        for (svc_name, port) in route_backends(route) {
            match find(objs, "Service", &svc_name) {
                None => v.push(format!(
                    "{}: backend Service {svc_name} does not exist",
                    id(route)
                )),
                Some(svc)
                    if !svc["spec"]["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["port"] == port) =>
                {
                    v.push(format!(
                        "{}: backend Service {svc_name} has no port {port}",
                        id(route)
                    ))
                }
                Some(_) => {}
            }
        }
    }
    v
}

/// Every HPA targets an existing workload; every PDB selects the pods of one.
pub fn scale_targets(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for hpa in of_kind(objs, "HorizontalPodAutoscaler") {
        let target = &hpa["spec"]["scaleTargetRef"];
        let (k, n) = (
            target["kind"].as_str().unwrap_or(""),
            target["name"].as_str().unwrap_or(""),
        );
        let exists = find(objs, k, n).is_some_and(|o| o["apiVersion"] == target["apiVersion"]);
        if !exists {
            v.push(format!(
                "{}: scaleTargetRef {} {k}/{n} does not exist",
                id(hpa),
                target["apiVersion"]
            ));
        }
    }
    for pdb in of_kind(objs, "PodDisruptionBudget") {
        let selector = &pdb["spec"]["selector"];
        if selector.is_null()
            || !workloads(objs).any(|(w, _)| selector_matches(selector, &pod_labels(w)))
        {
            v.push(format!("{}: selector matches no workload's pods", id(pdb)));
        }
    }
    v
}

/// Each canary Rollout: stable and canary Services exist and differ; the HTTPRoute its Gateway API
/// plugin manages exists and has a rule with both as backends (the plugin fails every weight change
/// otherwise: rollouts-plugin-trafficrouter-gatewayapi v0.15.0 pkg/plugin/httproute.go,
/// `BackendRefWasNotFoundInHTTPRouteError`); every analysis template referenced exists and gets
/// exactly the args it declares without a default.
pub fn rollout_references(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for r in of_kind(objs, "Rollout") {
        let canary = &r["spec"]["strategy"]["canary"];
        if canary.is_null() {
            continue;
        }
        let stable = canary["stableService"].as_str().unwrap_or("");
        let canary_svc = canary["canaryService"].as_str().unwrap_or("");
        for svc in [stable, canary_svc] {
            if find(objs, "Service", svc).is_none() {
                v.push(format!("{}: Service {svc:?} does not exist", id(r)));
            }
        }
        if stable == canary_svc {
            v.push(format!(
                "{}: stableService and canaryService must differ",
                id(r)
            ));
        }
        if let Some(route_name) =
            canary["trafficRouting"]["plugins"][GATEWAY_API_PLUGIN]["httpRoute"].as_str()
        {
            match find(objs, "HTTPRoute", route_name) {
                None => v.push(format!(
                    "{}: HTTPRoute {route_name} (trafficRouting plugin {GATEWAY_API_PLUGIN}) does not exist",
                    id(r)
                )),
                Some(route) if canary_rule(route, stable, canary_svc).is_none() => {
                    v.push(format!(
                        "{}: HTTPRoute {route_name} has no rule with both {stable} and {canary_svc} as backends",
                        id(r)
                    ))
                }
                Some(_) => {}
            }
        }
        let step_analyses = canary["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| &s["analysis"]);
        for analysis in std::iter::once(&canary["analysis"])
            .chain(step_analyses)
            .filter(|a| a.is_object())
        {
            v.extend(analysis_references(objs, r, analysis));
        }
    }
    v
}

/// The rule of an HTTPRoute that has both Services as backends: the one whose weights the plugin
/// moves.
pub fn canary_rule<'a>(route: &'a Value, stable: &str, canary: &str) -> Option<&'a Value> {
    route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|rule| {
            let backends = rule["backendRefs"].as_array().into_iter().flatten();
            let names: Vec<&str> = backends.filter_map(|b| b["name"].as_str()).collect();
            names.contains(&stable) && names.contains(&canary)
        })
}

/// The templates of one analysis exist, and their arguments fit the Rollout's: Argo Rollouts
/// flattens the templates' args into one list (a name declared twice must not have two different
/// values), fills it from the Rollout's args, and needs a value for each (argo-rollouts v1.9.0
/// utils/analysis/helpers.go flattenArgs, MergeArgs). A supplied arg no template declares is
/// dropped there silently: here it is a mistake.
fn analysis_references(objs: &[Value], rollout: &Value, analysis: &Value) -> Vec<String> {
    let mut v = Vec::new();
    let supplied: BTreeSet<&str> = analysis["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["name"].as_str())
        .collect();
    let mut declared: Vec<&Value> = Vec::new();
    for t in analysis["templates"].as_array().into_iter().flatten() {
        let template_kind = if t["clusterScope"] == true {
            "ClusterAnalysisTemplate"
        } else {
            "AnalysisTemplate"
        };
        let template_name = t["templateName"].as_str().unwrap_or("");
        let Some(template) = find(objs, template_kind, template_name) else {
            v.push(format!(
                "{}: {template_kind} {template_name:?} does not exist",
                id(rollout)
            ));
            continue;
        };
        for arg in template["spec"]["args"].as_array().into_iter().flatten() {
            let clash = declared.iter().find(|d| {
                d["name"] == arg["name"]
                    && d["value"].is_string()
                    && arg["value"].is_string()
                    && d["value"] != arg["value"]
            });
            if let Some(earlier) = clash {
                v.push(format!(
                    "{}: arg {} has two defaults among its templates ({} and {})",
                    id(rollout),
                    arg["name"],
                    earlier["value"],
                    arg["value"]
                ));
            }
            declared.push(arg);
        }
    }
    for arg in &declared {
        let arg_name = arg["name"].as_str().unwrap_or("");
        let has_default = declared
            .iter()
            .any(|d| d["name"] == arg_name && (!d["value"].is_null() || !d["valueFrom"].is_null()));
        if !has_default && !supplied.contains(arg_name) {
            v.push(format!(
                "{}: its analysis needs arg {arg_name:?}, which the Rollout does not supply",
                id(rollout)
            ));
        }
    }
    for arg_name in &supplied {
        if !declared.iter().any(|a| a["name"] == *arg_name) {
            v.push(format!(
                "{}: supplies arg {arg_name:?}, which none of its analysis templates declares",
                id(rollout)
            ));
        }
    }
    v.sort();
    v.dedup();
    v
}

/// Every ServiceMonitor selects a Service, and every endpoint port name exists on each one.
pub fn service_monitor_references(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for sm in of_kind(objs, "ServiceMonitor") {
        let selector = &sm["spec"]["selector"];
        let empty = Map::new();
        let selected: Vec<&Value> = of_kind(objs, "Service")
            .filter(|s| {
                selector_matches(
                    selector,
                    s.pointer("/metadata/labels")
                        .and_then(Value::as_object)
                        .unwrap_or(&empty),
                )
            })
            .collect();
        if selected.is_empty() {
            v.push(format!("{}: selector matches no Service", id(sm)));
        }
        for ep in sm["spec"]["endpoints"].as_array().into_iter().flatten() {
            let Some(port) = ep["port"].as_str() else {
                v.push(format!("{}: endpoints must name their port", id(sm)));
                continue;
            };
            for svc in selected.iter().filter(|s| {
                !s["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == port)
            }) {
                v.push(format!(
                    "{}: port {port:?} does not exist on {}",
                    id(sm),
                    id(svc)
                ));
            }
        }
    }
    v
}

/// Keys a Secret will have: a rendered Secret's data, or an ExternalSecret target's keys
/// (template data, `data[].secretKey`). `None` when no such Secret will exist.
pub fn secret_keys(objs: &[Value], secret: &str) -> Option<BTreeSet<String>> {
    if let Some(s) = find(objs, "Secret", secret) {
        let keys = ["data", "stringData"]
            .iter()
            .filter_map(|f| s[f].as_object())
            .flat_map(|m| m.keys().cloned());
        return Some(keys.collect());
    }
    let es = of_kind(objs, "ExternalSecret").find(|e| {
        let target = e["spec"]["target"]["name"].as_str().unwrap_or(name(e));
        target == secret
    })?;
    let templated = es
        .pointer("/spec/target/template/data")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.keys().cloned());
    let direct = es["spec"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["secretKey"].as_str().map(String::from));
    Some(templated.chain(direct).collect())
}

/// Every ConfigMap/Secret a pod references (envFrom, env valueFrom, volumes and the keys their
/// `items` project, projected volumes) resolves to a rendered ConfigMap (generated, with its hash
/// suffix) or to a Secret an ExternalSecret creates, and every referenced key exists.
/// `optional: true` references are exempt. Every volume mount names a volume of the pod.
pub fn config_references(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for (w, spec) in workloads(objs) {
        // A StatefulSet's claim templates are volumes of its pods too.
        let claims = w["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten();
        let volumes: BTreeSet<&str> = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|vol| vol["name"].as_str())
            .chain(claims.filter_map(|c| c["metadata"]["name"].as_str()))
            .collect();
        for c in containers(spec) {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let volume = m["name"].as_str().unwrap_or("");
                if !volumes.contains(volume) {
                    v.push(format!(
                        "{}: container {} mounts volume {volume:?}, which the pod does not define",
                        id(w),
                        c["name"]
                    ));
                }
            }
        }
        let mut refs: Vec<(&str, &Value, Option<&Value>)> = Vec::new(); // (kind, ref, key)
        for c in containers(spec) {
            for e in c["envFrom"].as_array().into_iter().flatten() {
                refs.extend([
                    ("ConfigMap", &e["configMapRef"], None),
                    ("Secret", &e["secretRef"], None),
                ]);
            }
            for e in c["env"].as_array().into_iter().flatten() {
                let from = &e["valueFrom"];
                refs.push((
                    "ConfigMap",
                    &from["configMapKeyRef"],
                    Some(&from["configMapKeyRef"]["key"]),
                ));
                refs.push((
                    "Secret",
                    &from["secretKeyRef"],
                    Some(&from["secretKeyRef"]["key"]),
                ));
            }
        }
        for vol in spec["volumes"].as_array().into_iter().flatten() {
            let projected = vol["projected"]["sources"].as_array().into_iter().flatten();
            for src in std::iter::once(vol).chain(projected) {
                refs.extend(with_items("ConfigMap", &src["configMap"]));
                refs.extend(with_items("Secret", &src["secret"]));
            }
        }
        for (ref_kind, r, key) in refs
            .into_iter()
            .filter(|(_, r, _)| r.is_object() && r["optional"] != true)
        {
            let ref_name = r["name"]
                .as_str()
                .or_else(|| r["secretName"].as_str())
                .unwrap_or("");
            let keys: Option<BTreeSet<String>> = match ref_kind {
                "ConfigMap" => find(objs, "ConfigMap", ref_name).map(|cm| {
                    cm["data"]
                        .as_object()
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default()
                }),
                _ => secret_keys(objs, ref_name),
            };
            match (keys, key.and_then(Value::as_str)) {
                (None, _) => v.push(format!("{}: {ref_kind} {ref_name:?} is neither rendered nor created by an ExternalSecret", id(w))),
                (Some(keys), Some(k)) if !keys.contains(k) => v.push(format!("{}: {ref_kind} {ref_name} has no key {k:?}", id(w))),
                _ => {}
            }
        }
    }
    v
}

/// A volume source, and the same source once more for each key its `items` project.
fn with_items<'a>(
    kind: &'static str,
    source: &'a Value,
) -> impl Iterator<Item = (&'static str, &'a Value, Option<&'a Value>)> {
    let items = source["items"].as_array().into_iter().flatten();
    std::iter::once((kind, source, None)).chain(items.map(move |i| (kind, source, Some(&i["key"]))))
}
