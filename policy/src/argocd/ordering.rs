//! How Applications sync: wave order (CRDs and controllers before their users) and automation
//! guards.

use super::model::{annotation, group, id, kind, name, of_kind, str_at, sync_wave, App, Rendered};
use super::references::helm_values;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The platform Application whose chart installs the CRD (and controller) for a kind.
fn crd_provider(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("cert-manager.io", _) => Some("cert-manager"),
        ("external-secrets.io", _) => Some("external-secrets"),
        ("monitoring.coreos.com", _) => Some("prometheus-operator-crds"),
        ("gateway.networking.k8s.io", _) => Some("gateway-api-crds"),
        ("gateway.nginx.org", _) => Some("nginx-gateway-fabric"),
        (
            "argoproj.io",
            "Rollout"
            | "AnalysisTemplate"
            | "ClusterAnalysisTemplate"
            | "AnalysisRun"
            | "Experiment",
        ) => Some("argo-rollouts"),
        _ => None,
    }
}

/// The backend weights of an HTTPRoute, as an Argo CD ignoreDifferences jq path.
const ROUTE_WEIGHTS: &str = ".spec.rules[]?.backendRefs[]?.weight";

/// An app of apps (the root): what it renders are Applications, whose own waves are checked.
fn is_app_of_apps(app: &App, rendered: &Rendered) -> bool {
    rendered
        .get(&app.name)
        .is_some_and(|objs| objs.iter().any(|o| kind(o) == "Application"))
}

/// Sync waves put every CRD provider before what uses its kinds: custom resources in argocd/ sync
/// in a later wave than the Application installing their CRD, and may skip the dry run while the
/// CRD does not exist yet; an Application whose source renders such kinds, or whose chart values
/// switch on ServiceMonitors and the like, syncs after the provider too; ExternalSecrets sync after
/// their store. argocd-cm (Application health, which makes waves wait) comes first.
pub fn sync_waves(
    apps: &[App],
    objects: &[Value],
    rendered: &Rendered,
    repo_root: &Path,
) -> Vec<String> {
    let mut violations = Vec::new();
    let provider_wave = |provider: &str| apps.iter().find(|a| a.name == provider).map(|a| a.wave);
    for obj in objects
        .iter()
        .filter(|o| !matches!(kind(o), "Application" | "ApplicationSet"))
    {
        let Some(provider) = crd_provider(group(obj), kind(obj)) else {
            continue;
        };
        let wave = sync_wave(obj).unwrap_or_else(|e| {
            violations.push(e);
            0
        });
        match provider_wave(provider) {
            None => violations.push(format!(
                "{}: no Application {provider} installs its CRD",
                id(obj)
            )),
            Some(p) if wave <= p => violations.push(format!(
                "{}: sync wave {wave} is not after {provider}'s wave {p}",
                id(obj)
            )),
            Some(_) => {}
        }
        let options = annotation(obj, "argocd.argoproj.io/sync-options").unwrap_or("");
        if !options
            .split(',')
            .any(|o| o.trim() == "SkipDryRunOnMissingResource=true")
        {
            violations.push(format!(
                "{}: needs SkipDryRunOnMissingResource=true (its CRD arrives in the same sync)",
                id(obj)
            ));
        }
    }
    for app in apps.iter().filter(|a| !is_app_of_apps(a, rendered)) {
        let mut providers: BTreeSet<&str> = rendered
            .get(&app.name)
            .into_iter()
            .flatten()
            .filter_map(|o| crd_provider(group(o), kind(o)))
            .collect();
        match helm_values(app, repo_root) {
            Ok(values) => {
                if enables_prometheus_operator_objects(&values) {
                    providers.insert("prometheus-operator-crds");
                }
                // cert-manager v1.21.1 with Gateway API support exits at start while the CRDs are
                // missing (pkg/controller/context.go).
                if values.pointer("/config/gatewayAPI/enabled") == Some(&Value::Bool(true)) {
                    providers.insert("gateway-api-crds");
                }
            }
            Err(e) => violations.push(e),
        }
        for provider in providers.into_iter().filter(|p| *p != app.name) {
            match provider_wave(provider) {
                None => violations.push(format!(
                    "{}: uses kinds of {provider}, which no Application installs",
                    app.origin
                )),
                Some(p) if app.wave <= p => violations.push(format!(
                    "{}: sync wave {} is not after {provider}'s wave {p}",
                    app.origin, app.wave
                )),
                Some(_) => {}
            }
        }
    }
    // An ExternalSecret syncs after the ClusterSecretStore it reads (in argocd/ itself, or through
    // the wave of the Application rendering it).
    let store_wave = |store: &str| {
        of_kind(objects, "ClusterSecretStore")
            .find(|s| name(s) == store)
            .map(|s| sync_wave(s).unwrap_or(0))
    };
    let in_root = objects
        .iter()
        .map(|o| (id(o), sync_wave(o).unwrap_or(0), o));
    let in_apps = apps
        .iter()
        .filter(|a| !is_app_of_apps(a, rendered))
        .flat_map(|a| {
            let objs = rendered.get(&a.name).into_iter().flatten();
            objs.map(move |o| (format!("{} {}", a.origin, id(o)), a.wave, o))
        });
    for (at, wave, es) in in_root
        .chain(in_apps)
        .filter(|(_, _, o)| kind(o) == "ExternalSecret")
    {
        let store = str_at(es, "/spec/secretStoreRef/name");
        if let Some(store_wave) = store_wave(store).filter(|w| wave <= *w) {
            violations.push(format!(
                "{at}: sync wave {wave} is not after ClusterSecretStore {store}'s wave {store_wave}"
            ));
        }
    }
    if let Some(cm) = of_kind(objects, "ConfigMap").find(|c| name(c) == "argocd-cm") {
        let first = sync_wave(cm).unwrap_or(0);
        let argo_objects = objects
            .iter()
            .filter(|o| matches!(kind(o), "Application" | "ApplicationSet" | "AppProject"));
        for obj in argo_objects.filter(|o| sync_wave(o).unwrap_or(0) <= first) {
            violations.push(format!(
                "{}: syncs no later than argocd-cm, whose health settings the waves rely on",
                id(obj)
            ));
        }
    }
    violations
}

/// Whether chart values switch on a ServiceMonitor, PodMonitor or PrometheusRule (charts spell the
/// key in different cases, at different depths).
fn enables_prometheus_operator_objects(values: &Value) -> bool {
    match values {
        Value::Object(fields) => fields.iter().any(|(key, value)| {
            let monitoring_key = matches!(
                key.to_ascii_lowercase().as_str(),
                "servicemonitor" | "podmonitor" | "prometheusrule"
            );
            (monitoring_key && value["enabled"] == Value::Bool(true))
                || enables_prometheus_operator_objects(value)
        }),
        Value::Array(items) => items.iter().any(enables_prometheus_operator_objects),
        _ => false,
    }
}

/// Guards against accidental mass deletion and drift: ApplicationSets never delete Applications
/// (as declared and as the controller's argocd-cmd-params-cm makes effective) and never cascade
/// into their resources (argo-cd#28929); no Application carries the cascading
/// resources finalizer; every Application self-heals and retries with backoff; child Applications
/// prune what left git while the app of apps never prunes; an Application whose Rollout an HPA
/// scales ignores (and respects ignoring) `/spec/replicas`, and one whose Rollout moves the
/// weights of an HTTPRoute ignores (and respects ignoring) those weights.
pub fn automation(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    let mut violations = Vec::new();
    // The ApplicationSet controller honours an ApplicationSet's own policy only when override is
    // enabled; otherwise its global policy (default `sync`, which deletes Applications) applies.
    let params = of_kind(objects, "ConfigMap").find(|c| name(c) == "argocd-cmd-params-cm");
    let global = params
        .map(|p| str_at(p, "/data/applicationsetcontroller.policy"))
        .filter(|p| !p.is_empty())
        .unwrap_or("sync");
    let override_enabled = params.is_some_and(|p| {
        str_at(p, "/data/applicationsetcontroller.enable.policy.override") == "true"
    });
    for appset in of_kind(objects, "ApplicationSet") {
        let set = name(appset);
        let own = str_at(appset, "/spec/syncPolicy/applicationsSync");
        if !matches!(own, "create-only" | "create-update") {
            violations.push(format!("ApplicationSet {set}: syncPolicy.applicationsSync must be create-update (never delete Applications)"));
        }
        let effective = if override_enabled && !own.is_empty() {
            own
        } else {
            global
        };
        if !matches!(effective, "create-only" | "create-update") {
            violations.push(format!(
                "ApplicationSet {set}: the controller applies policy {effective:?} (argocd-cmd-params-cm: \
                 policy {global:?}, override {override_enabled}), which deletes Applications"
            ));
        }
        if appset.pointer("/spec/syncPolicy/preserveResourcesOnDeletion")
            != Some(&Value::Bool(true))
        {
            violations.push(format!(
                "ApplicationSet {set}: syncPolicy.preserveResourcesOnDeletion must be true"
            ));
        }
        let options = appset
            .pointer("/spec/goTemplateOptions")
            .and_then(Value::as_array);
        if appset["spec"]["goTemplate"] != Value::Bool(true)
            || !options.is_some_and(|o| o.contains(&"missingkey=error".into()))
        {
            violations.push(format!("ApplicationSet {set}: goTemplate with missingkey=error, so a typo fails instead of rendering empty"));
        }
    }
    for app in apps {
        let policy = &app.spec()["syncPolicy"];
        let finalizers = app
            .object
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array);
        if finalizers.is_some_and(|f| {
            f.iter().any(|f| {
                f.as_str()
                    .is_some_and(|f| f.starts_with("resources-finalizer"))
            })
        }) {
            violations.push(format!(
                "{}: resources finalizer would delete every resource with the Application",
                app.origin
            ));
        }
        if policy.pointer("/automated/selfHeal") != Some(&Value::Bool(true)) {
            violations.push(format!(
                "{}: automated sync with selfHeal is required",
                app.origin
            ));
        }
        let prune = policy.pointer("/automated/prune") == Some(&Value::Bool(true));
        match (is_app_of_apps(app, rendered), prune) {
            (true, true) => violations.push(format!(
                "{}: the app of apps must not prune (a deleted file would delete an environment)",
                app.origin
            )),
            (false, false) => violations.push(format!(
                "{}: automated prune is required (git is the source of truth)",
                app.origin
            )),
            _ => {}
        }
        let retry = &policy["retry"];
        let backoff_ok = retry["limit"].as_i64().is_some_and(|l| l > 0)
            && !str_at(retry, "/backoff/duration").is_empty()
            && retry
                .pointer("/backoff/factor")
                .and_then(Value::as_i64)
                .is_some_and(|f| f >= 2)
            && !str_at(retry, "/backoff/maxDuration").is_empty();
        if !backoff_ok {
            violations.push(format!("{}: retry needs a limit and an exponential backoff (duration, factor >= 2, maxDuration)", app.origin));
        }
        let hpa_scales_rollout = rendered.get(&app.name).into_iter().flatten().any(|o| {
            kind(o) == "HorizontalPodAutoscaler"
                && str_at(o, "/spec/scaleTargetRef/kind") == "Rollout"
        });
        if hpa_scales_rollout {
            let ignored = app.spec()["ignoreDifferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| {
                    str_at(d, "/group") == "argoproj.io"
                        && str_at(d, "/kind") == "Rollout"
                        && d["jsonPointers"]
                            .as_array()
                            .is_some_and(|p| p.contains(&"/spec/replicas".into()))
                });
            if !ignored || !app.has_sync_option("RespectIgnoreDifferences=true") {
                violations.push(format!(
                    "{}: an HPA scales the Rollout: ignoreDifferences on Rollout /spec/replicas with RespectIgnoreDifferences=true",
                    app.origin
                ));
            }
        }
        let routed = rendered
            .get(&app.name)
            .into_iter()
            .flatten()
            .filter_map(|o| {
                let plugins = o.pointer("/spec/strategy/canary/trafficRouting/plugins")?;
                plugins
                    .as_object()?
                    .values()
                    .find_map(|p| p["httpRoute"].as_str())
            });
        for route in routed {
            let ignored = app.spec()["ignoreDifferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| {
                    str_at(d, "/group") == "gateway.networking.k8s.io"
                        && str_at(d, "/kind") == "HTTPRoute"
                        && [route, ""].contains(&str_at(d, "/name"))
                        && d["jqPathExpressions"]
                            .as_array()
                            .is_some_and(|p| p.contains(&ROUTE_WEIGHTS.into()))
                });
            if !ignored || !app.has_sync_option("RespectIgnoreDifferences=true") {
                violations.push(format!(
                    "{}: the Rollout moves the weights of HTTPRoute {route}: ignoreDifferences on it ({ROUTE_WEIGHTS}) with RespectIgnoreDifferences=true",
                    app.origin
                ));
            }
        }
    }
    violations
}
