//! What each AppProject lets its Applications do: destinations, resource kinds, roles and sync
//! windows.

use super::model::{group, id, kind, name, of_kind, str_at, App, Rendered};
use serde_json::Value;
use std::collections::BTreeSet;

/// Namespaces that exist before any Application syncs: Argo CD's own and the cluster's.
const PREEXISTING_NAMESPACES: [&str; 2] = ["argocd", "kube-system"];

fn project<'a>(objects: &'a [Value], wanted: &str) -> Option<&'a Value> {
    of_kind(objects, "AppProject").find(|p| name(p) == wanted)
}

fn list<'a>(value: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn strings<'a>(value: &'a Value, pointer: &str) -> Vec<&'a str> {
    list(value, pointer).filter_map(Value::as_str).collect()
}

fn glob(pattern: &str, text: &str) -> bool {
    super::glob_match(pattern, text)
}

/// Every Application's project exists and permits its destination; every namespace it deploys to
/// is permitted too and exists when it syncs: rendered by its own source (the overlays render
/// their Namespace) or by an Application of an earlier wave, created by an Application with
/// `CreateNamespace=true`, or pre-existing. No project permits a namespace none of its Applications
/// uses.
pub fn destinations(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    let created: BTreeSet<&str> = apps
        .iter()
        .filter(|a| a.has_sync_option("CreateNamespace=true"))
        .map(|a| a.destination_namespace())
        .collect();
    let mut violations = Vec::new();
    for app in apps {
        let Some(proj) = project(objects, app.project()) else {
            violations.push(format!(
                "{}: project {:?} does not exist",
                app.origin,
                app.project()
            ));
            continue;
        };
        let destination = &app.spec()["destination"];
        let namespace = app.destination_namespace();
        if !permits(proj, destination, namespace) {
            violations.push(format!(
                "{}: project {} does not permit destination {destination}",
                app.origin,
                app.project()
            ));
        }
        let objects_of_app = rendered
            .get(&app.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let renders_namespace = of_kind(objects_of_app, "Namespace").any(|n| name(n) == namespace);
        let rendered_earlier = apps.iter().filter(|a| a.wave < app.wave).any(|a| {
            let objs = rendered.get(&a.name).map(Vec::as_slice).unwrap_or_default();
            of_kind(objs, "Namespace").any(|n| name(n) == namespace)
        });
        if !namespace.is_empty()
            && !renders_namespace
            && !rendered_earlier
            && !created.contains(namespace)
            && !PREEXISTING_NAMESPACES.contains(&namespace)
        {
            violations.push(format!(
                "{}: destination namespace {namespace} is not rendered by its source or an earlier wave, created \
                 by an Application (CreateNamespace=true) or pre-existing",
                app.origin
            ));
        }
        for obj in objects_of_app {
            let explicit = str_at(obj, "/metadata/namespace");
            if !explicit.is_empty()
                && explicit != namespace
                && !permits(proj, destination, explicit)
            {
                violations.push(format!(
                    "{}: renders {} into namespace {explicit}, which project {} does not permit",
                    app.origin,
                    id(obj),
                    app.project()
                ));
            }
        }
    }
    violations.extend(unused_destinations(apps, objects, rendered));
    violations
}

/// Least privilege: every namespace a project permits is one its Applications deploy to (as
/// destination, or as the explicit namespace of an object they render).
fn unused_destinations(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    let mut violations = Vec::new();
    for proj in of_kind(objects, "AppProject") {
        let used: BTreeSet<&str> = apps
            .iter()
            .filter(|a| a.project() == name(proj))
            .flat_map(|a| {
                let explicit = rendered
                    .get(&a.name)
                    .into_iter()
                    .flatten()
                    .map(|o| str_at(o, "/metadata/namespace"));
                std::iter::once(a.destination_namespace()).chain(explicit)
            })
            .filter(|n| !n.is_empty())
            .collect();
        for allowed in list(proj, "/spec/destinations") {
            let pattern = str_at(allowed, "/namespace");
            if !used.iter().any(|n| glob(pattern, n)) {
                violations.push(format!(
                    "project {} permits namespace {pattern:?}, which none of its Applications uses",
                    name(proj)
                ));
            }
        }
    }
    violations
}

fn permits(project: &Value, destination: &Value, namespace: &str) -> bool {
    list(project, "/spec/destinations").any(|allowed| {
        let cluster = match (str_at(allowed, "/server"), str_at(destination, "/server")) {
            (pattern, server) if !pattern.is_empty() && !server.is_empty() => glob(pattern, server),
            _ => {
                let (pattern, cluster_name) =
                    (str_at(allowed, "/name"), str_at(destination, "/name"));
                !pattern.is_empty() && glob(pattern, cluster_name)
            }
        };
        cluster && glob(str_at(allowed, "/namespace"), namespace)
    })
}

/// Whether a kind is cluster-scoped, from the API groups this repository can render. A kind not
/// listed here is a violation (add it with its real scope) rather than silently assumed.
fn cluster_scoped(group: &str, kind: &str) -> Option<bool> {
    let cluster = match (group, kind) {
        ("", "Namespace" | "Node" | "PersistentVolume")
        | ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding")
        | ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("apiregistration.k8s.io", "APIService")
        | ("admissionregistration.k8s.io", _)
        | ("storage.k8s.io", "StorageClass" | "CSIDriver" | "VolumeAttachment")
        | ("scheduling.k8s.io", "PriorityClass")
        | ("node.k8s.io", "RuntimeClass")
        | ("networking.k8s.io", "IngressClass")
        | ("gateway.networking.k8s.io", "GatewayClass")
        | ("cert-manager.io", "ClusterIssuer")
        | ("external-secrets.io", "ClusterSecretStore" | "ClusterExternalSecret")
        | ("argoproj.io", "ClusterAnalysisTemplate") => true,
        (
            "",
            "ConfigMap" | "Secret" | "Service" | "ServiceAccount" | "Pod" | "PersistentVolumeClaim",
        )
        | ("", "ResourceQuota" | "LimitRange" | "Endpoints")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job" | "CronJob")
        | ("autoscaling", "HorizontalPodAutoscaler")
        | ("policy", "PodDisruptionBudget")
        | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
        | (
            "gateway.networking.k8s.io",
            "Gateway" | "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "ReferenceGrant"
            | "BackendTLSPolicy" | "ListenerSet",
        )
        | ("rbac.authorization.k8s.io", "Role" | "RoleBinding")
        | ("argoproj.io", "Rollout" | "AnalysisTemplate" | "AnalysisRun" | "Experiment")
        | ("argoproj.io", "Application" | "ApplicationSet" | "AppProject")
        | ("external-secrets.io", "ExternalSecret" | "SecretStore" | "PushSecret")
        | ("cert-manager.io", "Certificate" | "Issuer" | "CertificateRequest")
        | ("monitoring.coreos.com", _) => false,
        _ => return None,
    };
    Some(cluster)
}

/// Nothing an Application renders from this repository is outside its project's resource
/// whitelists: cluster-scoped kinds within `clusterResourceWhitelist`, namespaced kinds within
/// `namespaceResourceWhitelist` when the project sets one; and the whitelists of fully rendered
/// projects allow nothing their Applications do not render.
pub fn project_resources(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    let mut violations = Vec::new();
    for app in apps {
        let (Some(proj), Some(objects_of_app)) =
            (project(objects, app.project()), rendered.get(&app.name))
        else {
            continue;
        };
        for obj in objects_of_app {
            let (obj_group, obj_kind) = (group(obj), kind(obj));
            let listed = |field: &str| {
                list(proj, field).any(|r| resource_matches(r, obj_group, obj_kind, name(obj)))
            };
            match cluster_scoped(obj_group, obj_kind) {
                None => violations.push(format!("{}: scope of {obj_group}/{obj_kind} is unknown to the policy", app.origin)),
                Some(true) if !listed("/spec/clusterResourceWhitelist") || listed("/spec/clusterResourceBlacklist") => {
                    violations.push(format!(
                        "{}: cluster-scoped {} ({obj_group}) is outside project {}'s clusterResourceWhitelist",
                        app.origin,
                        id(obj),
                        app.project()
                    ))
                }
                Some(false)
                    if (list(proj, "/spec/namespaceResourceWhitelist").next().is_some()
                        && !listed("/spec/namespaceResourceWhitelist"))
                        || listed("/spec/namespaceResourceBlacklist") =>
                {
                    violations.push(format!(
                        "{}: {} ({obj_group}) is outside project {}'s namespaceResourceWhitelist",
                        app.origin,
                        id(obj),
                        app.project()
                    ))
                }
                Some(_) => {}
            }
        }
    }
    violations.extend(unused_whitelist_entries(apps, objects, rendered));
    violations
}

/// Least privilege for projects whose Applications are all rendered here (no Helm charts, whose
/// output this test cannot see): every whitelist entry matches something they render.
fn unused_whitelist_entries(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    let mut violations = Vec::new();
    for proj in of_kind(objects, "AppProject") {
        let members: Vec<&App> = apps.iter().filter(|a| a.project() == name(proj)).collect();
        let fully_rendered = !members.is_empty()
            && members.iter().all(|a| {
                a.sources().iter().all(|s| s.get("chart").is_none())
                    && rendered.contains_key(&a.name)
            });
        if !fully_rendered {
            continue;
        }
        let objs: Vec<&Value> = members.iter().flat_map(|a| &rendered[&a.name]).collect();
        for field in ["clusterResourceWhitelist", "namespaceResourceWhitelist"] {
            for rule in list(proj, &format!("/spec/{field}")) {
                if !objs
                    .iter()
                    .any(|o| resource_matches(rule, group(o), kind(o), name(o)))
                {
                    violations.push(format!(
                        "project {} {field} allows {}/{}, which none of its Applications renders",
                        name(proj),
                        str_at(rule, "/group"),
                        str_at(rule, "/kind")
                    ));
                }
            }
        }
    }
    violations
}

fn resource_matches(rule: &Value, group: &str, kind: &str, name: &str) -> bool {
    let name_pattern = str_at(rule, "/name");
    glob(str_at(rule, "/group"), group)
        && glob(str_at(rule, "/kind"), kind)
        && (name_pattern.is_empty() || glob(name_pattern, name))
}

/// Applications deploying to a `*-prod` namespace.
fn is_prod(app: &App) -> bool {
    app.destination_namespace().ends_with("-prod")
}

/// Project roles: a `ci` role may only `get` and `sync` applications, and never sync prod (prod
/// changes arrive by merge); every prod Application can be synced by its project's
/// `release-managers` role, which is bound to a group.
pub fn project_roles(apps: &[App], objects: &[Value]) -> Vec<String> {
    let mut violations = Vec::new();
    for proj in of_kind(objects, "AppProject") {
        for role in list(proj, "/spec/roles").filter(|r| str_at(r, "/name") == "ci") {
            for policy in strings(role, "/policies") {
                let fields: Vec<&str> = policy.split(',').map(str::trim).collect();
                let allowed = matches!(
                    fields.as_slice(),
                    [_, _, "applications", "get" | "sync", _, "allow"]
                );
                if !allowed {
                    violations.push(format!("project {} role ci: policy {policy:?} grants more than get/sync on applications", name(proj)));
                }
            }
        }
    }
    for app in apps.iter().filter(|a| is_prod(a)) {
        let Some(proj) = project(objects, app.project()) else {
            continue;
        };
        let object = format!("{}/{}", app.project(), app.name);
        let role = |wanted: &str| list(proj, "/spec/roles").find(|r| str_at(r, "/name") == wanted);
        if role("ci").is_some_and(|ci| grants(ci, "sync", &object)) {
            violations.push(format!("{}: the ci role may sync prod", app.origin));
        }
        match role("release-managers") {
            Some(rm) if grants(rm, "sync", &object) && !strings(rm, "/groups").is_empty() => {}
            _ => violations.push(format!(
                "{}: project {} has no release-managers role (bound to a group) that may sync it",
                app.origin,
                app.project()
            )),
        }
    }
    violations
}

fn grants(role: &Value, action: &str, object: &str) -> bool {
    strings(role, "/policies").iter().any(|policy| {
        let fields: Vec<&str> = policy.split(',').map(str::trim).collect();
        matches!(fields.as_slice(), [_, _, "applications", a, o, "allow"] if glob(a, action) && glob(o, object))
    })
}

/// Prod is guarded by a sync window: every prod Application matches at least one well-formed
/// window of its project (`allow` or `deny`, cron schedule, duration, `manualSync` for
/// emergencies) and syncs automatically otherwise (merge = deploy); no window holds back a
/// non-prod Application.
pub fn sync_windows(apps: &[App], objects: &[Value]) -> Vec<String> {
    let mut violations = Vec::new();
    for app in apps {
        let Some(proj) = project(objects, app.project()) else {
            continue;
        };
        let windows: Vec<&Value> = list(proj, "/spec/syncWindows")
            .filter(|w| window_matches(w, app))
            .collect();
        if !is_prod(app) {
            for window in windows {
                violations.push(format!(
                    "{}: non-prod Application is held by sync window {window}",
                    app.origin
                ));
            }
            continue;
        }
        if windows.is_empty() {
            violations.push(format!(
                "{}: prod Application matches no sync window of project {}",
                app.origin,
                app.project()
            ));
        }
        if app.spec().pointer("/syncPolicy/automated").is_none() {
            violations.push(format!(
                "{}: prod Application does not sync automatically (merge must deploy)",
                app.origin
            ));
        }
        for window in windows {
            let window_kind = str_at(window, "/kind");
            if !matches!(window_kind, "allow" | "deny") {
                violations.push(format!(
                    "{}: sync window kind {window_kind:?} is neither allow nor deny",
                    app.origin
                ));
            }
            if str_at(window, "/schedule").split_whitespace().count() != 5 {
                violations.push(format!(
                    "{}: sync window schedule {:?} is not a 5-field cron",
                    app.origin,
                    str_at(window, "/schedule")
                ));
            }
            if !is_duration(str_at(window, "/duration")) {
                violations.push(format!(
                    "{}: sync window duration {:?} is not a duration",
                    app.origin,
                    str_at(window, "/duration")
                ));
            }
            if window["manualSync"].as_bool() != Some(true) {
                violations.push(format!(
                    "{}: sync window does not allow manual (emergency) syncs",
                    app.origin
                ));
            }
        }
    }
    violations
}

fn window_matches(window: &Value, app: &App) -> bool {
    let cluster = [
        str_at(app.spec(), "/destination/server"),
        str_at(app.spec(), "/destination/name"),
    ];
    let selectors = [
        (strings(window, "/applications"), vec![app.name.as_str()]),
        (
            strings(window, "/namespaces"),
            vec![app.destination_namespace()],
        ),
        (
            strings(window, "/clusters"),
            cluster.into_iter().filter(|c| !c.is_empty()).collect(),
        ),
    ];
    let results: Vec<bool> = selectors
        .iter()
        .filter(|(patterns, _)| !patterns.is_empty())
        .map(|(patterns, values)| patterns.iter().any(|p| values.iter().any(|v| glob(p, v))))
        .collect();
    // A window without selectors applies to nothing.
    if window["andOperator"].as_bool() == Some(true) {
        !results.is_empty() && results.iter().all(|m| *m)
    } else {
        results.iter().any(|m| *m)
    }
}

/// A Go duration as Argo CD parses it: one or more `<number><h|m|s>`.
fn is_duration(text: &str) -> bool {
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let Some(unit) = rest[digits..].chars().next() else {
            return false;
        };
        if digits == 0 || !matches!(unit, 'h' | 'm' | 's') {
            return false;
        }
        rest = &rest[digits + 1..];
    }
    !text.is_empty()
}

/// Every source an Application reads is in its project's `sourceRepos`, and every repository a
/// project permits is read by one of its Applications (no standing permission nobody uses).
pub fn project_source_repos(apps: &[App], objects: &[Value]) -> Vec<String> {
    let mut violations = Vec::new();
    for proj in of_kind(objects, "AppProject") {
        let permitted = strings(proj, "/spec/sourceRepos");
        let members: Vec<&App> = apps.iter().filter(|a| a.project() == name(proj)).collect();
        let read: BTreeSet<&str> = members
            .iter()
            .flat_map(|a| a.sources())
            .map(|s| str_at(s, "/repoURL"))
            .collect();
        for app in &members {
            for repo in app.sources().into_iter().map(|s| str_at(s, "/repoURL")) {
                if !permitted.iter().any(|p| glob(p, repo)) {
                    violations.push(format!(
                        "{}: repository {repo} is not in project {}'s sourceRepos",
                        app.origin,
                        name(proj)
                    ));
                }
            }
        }
        for pattern in permitted
            .iter()
            .filter(|p| !read.iter().any(|r| glob(p, r)))
        {
            violations.push(format!(
                "project {} permits repository {pattern}, which none of its Applications reads",
                name(proj)
            ));
        }
    }
    violations
}
