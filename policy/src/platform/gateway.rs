//! The Gateway API pieces of the platform as the charts render them: Argo Rollouts loads the
//! pinned Gateway API plugin and may update HTTPRoutes, and NGINX Gateway Fabric's control plane is
//! the pod the data planes' NetworkPolicies admit (crate::network_policy::platform).

use crate::argocd::Rendered;
use crate::deploy::GATEWAY_API_PLUGIN;
use crate::network_policy::{platform, Pod};
use crate::objects::{find, of_kind};
use crate::runtime_pods::NGF_RELEASE;
use serde_json::Value;

/// Where the plugin's releases are published (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi
/// .github/workflows/release.yaml uploads `gatewayapi-plugin-<os>-<arch>` to each release).
const PLUGIN_RELEASES: &str =
    "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/download/";

/// argo-rollouts as rendered: ConfigMap argo-rollouts-config declares the Gateway API plugin once,
/// at a release version (`vX.Y.Z`) of its GitHub releases and with a sha256 the controller
/// verifies (utils/plugin/downloader.go refuses a mismatch); its ClusterRole lets the controller,
/// whose identity the plugin runs with, get and update HTTPRoutes.
pub fn traffic_router(rendered: &Rendered) -> Vec<String> {
    let objects = rendered
        .get("argo-rollouts")
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut v = Vec::new();
    let plugins: Vec<Value> = find(objects, "ConfigMap", "argo-rollouts-config")
        .and_then(|cm| cm["data"]["trafficRouterPlugins"].as_str())
        .and_then(|text| serde_yaml_ng::from_str(text).ok())
        .unwrap_or_default();
    match plugins.as_slice() {
        [plugin] if plugin["name"] == GATEWAY_API_PLUGIN => {
            let location = plugin["location"].as_str().unwrap_or("");
            let pinned = location
                .strip_prefix(PLUGIN_RELEASES)
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(tag, file)| {
                    crate::argocd::is_exact_version(tag)
                        && tag.starts_with('v')
                        && file == "gatewayapi-plugin-linux-amd64"
                });
            if !pinned {
                v.push(format!(
                    "argo-rollouts-config: plugin location {location:?} is not a release binary (linux-amd64) of {PLUGIN_RELEASES}vX.Y.Z/"
                ));
            }
            let sha256 = plugin["sha256"].as_str().unwrap_or("");
            if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                v.push(format!(
                    "argo-rollouts-config: plugin {GATEWAY_API_PLUGIN} has no sha256 (got {sha256:?}): the controller would run any binary served there"
                ));
            }
        }
        _ => v.push(format!(
            "argo-rollouts-config: trafficRouterPlugins must declare exactly {GATEWAY_API_PLUGIN}, got {plugins:?}"
        )),
    }
    let rules: Vec<&Value> = of_kind(objects, "ClusterRole")
        .filter(|r| r["metadata"]["name"] == "argo-rollouts")
        .flat_map(|r| r["rules"].as_array().into_iter().flatten())
        .collect();
    for verb in ["get", "update"] {
        let granted = rules.iter().any(|rule| {
            let has = |field: &str, value: &str| {
                rule[field]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == value || x == "*"))
            };
            has("apiGroups", "gateway.networking.k8s.io")
                && has("resources", "httproutes")
                && has("verbs", verb)
        });
        if !granted {
            v.push(format!(
                "ClusterRole argo-rollouts: may not {verb} httproutes (the plugin gets and updates the route)"
            ));
        }
    }
    v
}

/// nginx-gateway-fabric as rendered: its control plane pods are the NetworkPolicies' model
/// (namespace, labels, named ports), and run as the release the data planes are stamped with.
pub fn control_plane(rendered: &Rendered) -> Vec<String> {
    let objects = rendered
        .get("nginx-gateway-fabric")
        .map(Vec::as_slice)
        .unwrap_or_default();
    let model = platform::nginx_gateway_control_plane();
    let Some(deployment) = of_kind(objects, "Deployment").next() else {
        return vec!["nginx-gateway-fabric renders no Deployment".into()];
    };
    let pod = Pod::of_workload(deployment);
    let mut v = Vec::new();
    if pod.namespace != model.namespace {
        v.push(format!(
            "the control plane runs in {}, the policies admit it in {}",
            pod.namespace, model.namespace
        ));
    }
    for (key, value) in &model.labels {
        if pod.labels.get(key) != Some(value) {
            v.push(format!(
                "the control plane pods lack label {key}={value} (they have {:?})",
                pod.labels
            ));
        }
    }
    for port in &model.ports {
        if !pod.ports.contains(port) {
            v.push(format!("the control plane has no container port {port:?}"));
        }
    }
    if pod.labels.get("app.kubernetes.io/instance") != Some(&Value::from(NGF_RELEASE)) {
        v.push(format!(
            "the control plane's instance (INSTANCE_NAME, stamped on every data plane) is not {NGF_RELEASE}"
        ));
    }
    v
}
