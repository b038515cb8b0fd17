//! Pod Security admission at level "restricted", version latest, as the API server enforces it on
//! the greeter namespaces (their `pod-security.kubernetes.io/enforce` label): the checks of
//! k8s.io/pod-security-admission v0.35.8 (policy/check_*.go), baseline included. A pod it refuses
//! never starts, whoever creates it — the rendered workloads, and the pods controllers create in
//! these namespaces at runtime (crate::runtime_pods).

use super::Env;
use crate::objects::{id, pod_spec, workloads};
use crate::runtime_pods;
use serde_json::Value;

/// Sysctls the baseline level allows (check_sysctls.go, `sysctlsAllowedV1Dot32`).
const SAFE_SYSCTLS: [&str; 12] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// Volume sources the restricted level allows (check_restrictedVolumes.go).
const ALLOWED_VOLUMES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// SELinux types the baseline level allows (check_seLinuxOptions.go).
const SELINUX_TYPES: [&str; 5] = [
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Every pod that runs in an environment's namespace: the rendered workloads, the nginx data plane
/// of each rendered Gateway and cert-manager's HTTP-01 solver. Violations of "restricted", per pod.
pub fn namespace_pods_admitted(env: Env, objs: &[Value]) -> Vec<String> {
    let gateways = objs.iter().filter(|o| o["kind"] == "Gateway");
    let runtime: Vec<Value> = gateways
        .map(runtime_pods::nginx_data_plane)
        .chain([runtime_pods::acme_http01_solver(&env.namespace())])
        .collect();
    workloads(objs)
        .map(|(w, _)| w)
        .chain(&runtime)
        .flat_map(|w| {
            let spec = pod_spec(w).cloned().unwrap_or_default();
            restricted(&spec)
                .into_iter()
                .map(move |v| format!("{}: {v}", id(w)))
        })
        .collect()
}

/// What Pod Security "restricted" refuses in one pod spec (empty when it admits the pod).
pub fn restricted(spec: &Value) -> Vec<String> {
    let pod = &spec["securityContext"];
    let containers: Vec<&Value> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|f| spec[f].as_array())
        .flatten()
        .collect();
    let named = |c: &Value| c["name"].as_str().unwrap_or("?").to_string();
    let mut v = Vec::new();
    // baseline: host namespaces, privileged, host ports, host probes, procMount, AppArmor,
    // SELinux, sysctls, Windows host processes.
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[field] == true {
            v.push(format!("{field} must not be true"));
        }
    }
    if pod["windowsOptions"]["hostProcess"] == true {
        v.push("windowsOptions.hostProcess must not be true".into());
    }
    for sysctl in pod["sysctls"].as_array().into_iter().flatten() {
        let sysctl = sysctl["name"].as_str().unwrap_or("");
        if !SAFE_SYSCTLS.contains(&sysctl) {
            v.push(format!("forbidden sysctl {sysctl}"));
        }
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let sources: Vec<&String> = volume
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| *k != "name")
            .collect();
        if let Some(source) = sources
            .iter()
            .find(|s| !ALLOWED_VOLUMES.contains(&s.as_str()))
        {
            v.push(format!(
                "volume {} uses a restricted volume type ({source})",
                volume["name"]
            ));
        }
    }
    let apparmor_ok = |sc: &Value| sc["appArmorProfile"]["type"] != "Unconfined";
    let selinux_ok = |sc: &Value| {
        let options = &sc["seLinuxOptions"];
        SELINUX_TYPES.contains(&options["type"].as_str().unwrap_or(""))
            && options["user"].is_null()
            && options["role"].is_null()
    };
    if !apparmor_ok(pod) {
        v.push("pod appArmorProfile must not be Unconfined".into());
    }
    if !selinux_ok(pod) {
        v.push("pod seLinuxOptions are not allowed".into());
    }
    // restricted: runAsNonRoot, runAsUser, seccomp at pod level or on every container.
    if pod["runAsNonRoot"] == false {
        v.push("pod runAsNonRoot must not be false".into());
    }
    if pod["runAsUser"] == 0 {
        v.push("pod runAsUser must not be 0".into());
    }
    let pod_seccomp = pod["seccompProfile"]["type"].as_str();
    if pod_seccomp == Some("Unconfined") {
        v.push("pod seccompProfile must not be Unconfined".into());
    }
    for c in containers {
        let sc = &c["securityContext"];
        let at = format!("container {}", named(c));
        if sc["privileged"] == true {
            v.push(format!("{at}: privileged must not be true"));
        }
        if c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["hostPort"].as_i64().unwrap_or(0) != 0)
        {
            v.push(format!("{at}: hostPort must not be set"));
        }
        let handlers = ["livenessProbe", "readinessProbe", "startupProbe"]
            .iter()
            .map(|p| &c[p])
            .chain(["postStart", "preStop"].iter().map(|h| &c["lifecycle"][h]));
        for handler in handlers {
            if !handler["httpGet"]["host"].is_null() || !handler["tcpSocket"]["host"].is_null() {
                v.push(format!(
                    "{at}: probe and lifecycle handlers must not set host"
                ));
            }
        }
        if !sc["procMount"].is_null() && sc["procMount"] != "Default" {
            v.push(format!("{at}: procMount must be Default"));
        }
        if !apparmor_ok(sc) {
            v.push(format!("{at}: appArmorProfile must not be Unconfined"));
        }
        if !selinux_ok(sc) {
            v.push(format!("{at}: seLinuxOptions are not allowed"));
        }
        if sc["windowsOptions"]["hostProcess"] == true {
            v.push(format!("{at}: windowsOptions.hostProcess must not be true"));
        }
        if sc["allowPrivilegeEscalation"] != false {
            v.push(format!("{at}: allowPrivilegeEscalation must be false"));
        }
        match &sc["runAsNonRoot"] {
            Value::Bool(false) => v.push(format!("{at}: runAsNonRoot must not be false")),
            Value::Null if pod["runAsNonRoot"] != true => v.push(format!(
                "{at}: runAsNonRoot must be true (here or on the pod)"
            )),
            _ => {}
        }
        if sc["runAsUser"] == 0 {
            v.push(format!("{at}: runAsUser must not be 0"));
        }
        match sc["seccompProfile"]["type"].as_str() {
            Some("RuntimeDefault" | "Localhost") => {}
            None if matches!(pod_seccomp, Some("RuntimeDefault" | "Localhost")) => {}
            other => v.push(format!(
                "{at}: seccompProfile must be RuntimeDefault or Localhost (here or on the pod), got {other:?}"
            )),
        }
        let capabilities = &sc["capabilities"];
        let strings = |field: &str| -> Vec<&str> {
            capabilities[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        };
        if !strings("drop").contains(&"ALL") {
            v.push(format!("{at}: capabilities must drop ALL"));
        }
        if let Some(added) = strings("add")
            .into_iter()
            .find(|a| *a != "NET_BIND_SERVICE")
        {
            v.push(format!("{at}: may add only NET_BIND_SERVICE, adds {added}"));
        }
    }
    v
}
