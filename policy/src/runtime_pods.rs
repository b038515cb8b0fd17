//! Pods that run in the greeter namespaces although no manifest here contains them, built the way
//! their controllers build them at the pinned versions: the nginx data plane NGINX Gateway Fabric
//! 2.6.7 provisions for a Gateway, and the HTTP-01 solver cert-manager v1.21.1 creates for each ACME
//! challenge. The NetworkPolicy tests take their labels and ports from here, and the Pod Security
//! test their pod specs, so both judge what the controllers really create.

use crate::objects::{name, namespace};
use serde_json::{json, Map, Value};

/// The Helm release of NGINX Gateway Fabric (argocd/platform/nginx-gateway-fabric.yaml). The chart
/// passes it to the controller as INSTANCE_NAME (the pod's app.kubernetes.io/instance label), and
/// the controller stamps it on every data plane it provisions.
pub const NGF_RELEASE: &str = "nginx-gateway-fabric";

/// Where nginx-agent in every data plane exports its metrics (NGF internal/controller/config
/// `DefaultNginxMetricsPort`), as container port `metrics`.
pub const NGINX_METRICS_PORT: i64 = 9113;

/// The Deployment NGINX Gateway Fabric 2.6.7 provisions for a Gateway, in the Gateway's namespace
/// (internal/controller/provisioner/objects.go): named `<gateway>-<class>` (`CreateNginxResourceName`),
/// selector labels from `buildLabelsAndAnnotations`, one container port per listener port
/// (`buildContainerPortsAndAnnotations`, named `port-<n>`) plus `metrics`, and the pod of
/// `buildBasePodTemplateSpec`, `buildNginxContainer` and `buildInitContainers` (volumes from
/// `buildBaseVolumes`). Panics on a Gateway whose names NGF would hash (over 63 characters): that
/// shortening is not modelled.
pub fn nginx_data_plane(gateway: &Value) -> Value {
    let gateway_name = name(gateway);
    let class = gateway["spec"]["gatewayClassName"].as_str().unwrap_or("");
    let resource = resource_name(gateway_name, class);
    let mut labels = Map::from_iter([
        ("app.kubernetes.io/instance".into(), json!(NGF_RELEASE)),
        (
            "app.kubernetes.io/managed-by".into(),
            json!(resource_name(NGF_RELEASE, class)),
        ),
        ("app.kubernetes.io/name".into(), json!(resource)),
        (
            "gateway.networking.k8s.io/gateway-name".into(),
            json!(gateway_name),
        ),
    ]);
    if let Some(extra) = gateway["spec"]["infrastructure"]["labels"].as_object() {
        labels.extend(extra.clone());
    }
    let mut ports: Vec<(i64, &str)> = gateway["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            let protocol = if l["protocol"] == "UDP" { "UDP" } else { "TCP" };
            Some((l["port"].as_i64()?, protocol))
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    let mut container_ports: Vec<Value> = ports
        .iter()
        .map(|(port, protocol)| {
            let shared = ports.iter().filter(|(p, _)| p == port).count() > 1;
            let port_name = if shared {
                format!("port-{port}-{}", protocol.to_lowercase())
            } else {
                format!("port-{port}")
            };
            json!({"name": port_name, "containerPort": port, "protocol": protocol})
        })
        .collect();
    container_ports.push(json!({"name": "metrics", "containerPort": NGINX_METRICS_PORT}));
    let restricted = json!({
        "capabilities": {"drop": ["ALL"]},
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsGroup": 1001,
        "runAsUser": 101,
        "seccompProfile": {"type": "RuntimeDefault"},
    });
    let empty_dirs = [
        "nginx-agent",
        "nginx-agent-log",
        "nginx-agent-lib",
        "nginx-conf",
        "nginx-stream-conf",
        "nginx-main-includes",
        "nginx-events-includes",
        "nginx-secrets",
        "nginx-run",
        "nginx-cache",
        "nginx-includes",
    ];
    let mut volumes = vec![
        json!({"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}),
        json!({"name": "nginx-agent-config", "configMap": {"name": format!("{resource}-agent-config")}}),
        json!({"name": "nginx-agent-tls", "secret": {"secretName": format!("{resource}-agent-tls")}}),
        json!({"name": "nginx-includes-bootstrap", "configMap": {"name": format!("{resource}-includes-bootstrap")}}),
    ];
    volumes.extend(
        empty_dirs
            .iter()
            .map(|v| json!({"name": v, "emptyDir": {}})),
    );
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": resource, "namespace": namespace(gateway), "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": true,
                    "serviceAccountName": resource,
                    "securityContext": {
                        "fsGroup": 1001,
                        "runAsNonRoot": true,
                        "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
                    },
                    "initContainers": [{
                        "name": "init",
                        "image": "ghcr.io/nginx/nginx-gateway-fabric:2.6.7",
                        "securityContext": restricted,
                    }],
                    "containers": [{
                        "name": "nginx",
                        "image": "ghcr.io/nginx/nginx-gateway-fabric/nginx:2.6.7",
                        "ports": container_ports,
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8081}},
                        "securityContext": restricted,
                    }],
                    "volumes": volumes,
                },
            },
        },
    })
}

/// NGF's `CreateNginxResourceName` for names that fit (`<prefix>-<suffix>`, at most 63 characters).
fn resource_name(prefix: &str, suffix: &str) -> String {
    let full = format!("{prefix}-{suffix}");
    assert!(
        full.len() <= 63,
        "{full}: NGINX Gateway Fabric shortens names over 63 characters with a hash; not modelled"
    );
    full
}

/// The pod cert-manager v1.21.1 creates for an HTTP-01 challenge, in the namespace of the
/// Certificate (pkg/issuer/acme/http/pod.go `buildDefaultPod`: labels from `podLabels` — the
/// domain and token labels carry per-challenge hashes, so only the solver label is stable —,
/// container port `http` = `acmeSolverListenPort` 8089 (http.go); runAsNonRoot is the controller's
/// default `--acme-http01-solver-run-as-non-root=true`).
pub fn acme_http01_solver(namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "cm-acme-http-solver-e2e01",
            "namespace": namespace,
            "labels": {
                "acme.cert-manager.io/http01-solver": "true",
                "acme.cert-manager.io/http-domain": "1234567",
                "acme.cert-manager.io/http-token": "7654321",
            },
        },
        "spec": {
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "restartPolicy": "OnFailure",
            "securityContext": {
                "runAsNonRoot": true,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": "acmesolver",
                "image": "quay.io/jetstack/cert-manager-acmesolver:v1.21.1",
                "ports": [{"name": "http", "containerPort": 8089}],
                "securityContext": {
                    "readOnlyRootFilesystem": true,
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]},
                },
            }],
        },
    })
}
