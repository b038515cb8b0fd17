//! Settings and secrets per environment, Redis (in-cluster or managed), and the public Gateway.

use super::integrity::secret_keys;
use super::{Env, CONFIG_MAP, GATEWAY, ROLLOUT, SECRET, SECRET_KEYS, TLS_SECRET};
use crate::objects::{containers, find, id, name, of_kind, pod_spec};
use serde_json::Value;

/// The generated greeter ConfigMap (name with the generator's hash suffix).
pub fn config_map(objs: &[Value]) -> Option<&Value> {
    of_kind(objs, "ConfigMap").find(|cm| {
        name(cm)
            .strip_prefix(CONFIG_MAP)
            .is_some_and(|s| s.starts_with('-') && s.len() > 1)
    })
}

/// Non-secret settings come from the generated ConfigMap (never a secret key in a ConfigMap);
/// secrets from the ExternalSecret `greeter` (external-secrets.io/v1) on the environment's
/// ClusterSecretStore and remote key `greeter/<env>`, declaring every secret key, and reach
/// greeter as files it re-reads (`secrets_as_files`).
pub fn config_and_secrets(env: Env, objs: &[Value]) -> Vec<String> {
    let mut v = secrets_as_files(objs);
    match config_map(objs) {
        None => v.push(format!("no generated ConfigMap {CONFIG_MAP}-<hash>")),
        Some(cm) => {
            for key in [
                "APP_ENV",
                "GREETING",
                "TIMEZONE_OFFSET",
                "REDIS_HOST",
                "REDIS_PORT",
                "REDIS_TLS",
                "LOG_FORMAT",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ] {
                if !cm["data"][key].is_string() {
                    v.push(format!("{}: missing {key}", id(cm)));
                }
            }
            if cm["data"]["APP_ENV"] != env.name() {
                v.push(format!("{}: APP_ENV must be {}", id(cm), env.name()));
            }
        }
    }
    for cm in of_kind(objs, "ConfigMap") {
        for key in SECRET_KEYS.iter().filter(|k| !cm["data"][**k].is_null()) {
            v.push(format!(
                "{}: secret {key} must not be in a ConfigMap",
                id(cm)
            ));
        }
    }
    let Some(es) = find(objs, "ExternalSecret", "greeter") else {
        v.push("ExternalSecret/greeter is not rendered".into());
        return v;
    };
    if es["apiVersion"] != "external-secrets.io/v1" {
        v.push(format!(
            "{}: apiVersion must be external-secrets.io/v1",
            id(es)
        ));
    }
    if es["spec"]["target"]["name"] != SECRET {
        v.push(format!("{}: target must be Secret {SECRET}", id(es)));
    }
    let store = &es["spec"]["secretStoreRef"];
    if store["kind"] != "ClusterSecretStore" || store["name"] != env.secret_store() {
        v.push(format!(
            "{}: {} must read from ClusterSecretStore {}, got {store}",
            id(es),
            env.name(),
            env.secret_store()
        ));
    }
    let remote_keys: Vec<&str> = es["spec"]["dataFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["extract"]["key"].as_str())
        .chain(
            es["spec"]["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["remoteRef"]["key"].as_str()),
        )
        .collect();
    let want = format!("greeter/{}", env.name());
    if remote_keys.is_empty() || remote_keys.iter().any(|k| *k != want) {
        v.push(format!(
            "{}: remote keys must all be {want}, got {remote_keys:?}",
            id(es)
        ));
    }
    let keys = secret_keys(objs, SECRET).unwrap_or_default();
    for key in SECRET_KEYS.iter().filter(|k| !keys.contains(**k)) {
        v.push(format!("{}: does not declare key {key}", id(es)));
    }
    v
}

/// The greeter container reads Secret `greeter-secrets` as files, so that a rotation reaches the
/// running pods: a volume of it mounted read-only at `SECRETS_DIR` (not through `subPath`, which
/// the kubelet never updates; every key, each under its own name), and never as environment
/// variables, which are fixed when the container starts.
fn secrets_as_files(objs: &[Value]) -> Vec<String> {
    let Some(rollout) = find(objs, "Rollout", ROLLOUT) else {
        return vec![format!("Rollout/{ROLLOUT} is not rendered")];
    };
    let spec = pod_spec(rollout).cloned().unwrap_or_default();
    let Some(c) = containers(&spec).find(|c| c["name"] == "greeter") else {
        return vec![format!("{}: no container named greeter", id(rollout))];
    };
    let mut v = Vec::new();
    let as_variables = c["envFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["secretRef"]["name"])
        .chain(
            c["env"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| &e["valueFrom"]["secretKeyRef"]["name"]),
        )
        .any(|n| n == SECRET);
    if as_variables {
        v.push(format!(
            "{}: Secret {SECRET} must not reach greeter as environment variables (fixed at start, never rotated)",
            id(rollout)
        ));
    }
    let secrets_dir = c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "SECRETS_DIR")
        .and_then(|e| e["value"].as_str())
        .or_else(|| config_map(objs).and_then(|cm| cm["data"]["SECRETS_DIR"].as_str()));
    let volume = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|vol| vol["secret"]["secretName"] == SECRET);
    let Some(volume) = volume else {
        v.push(format!("{}: no volume of Secret {SECRET}", id(rollout)));
        return v;
    };
    // Without items every key is projected under its own name; with items, each must be.
    if let Some(items) = volume["secret"]["items"].as_array() {
        for key in SECRET_KEYS {
            if !items.iter().any(|i| i["key"] == key && i["path"] == key) {
                v.push(format!(
                    "{}: the volume of Secret {SECRET} must project {key} as the file {key}",
                    id(rollout)
                ));
            }
        }
    }
    let mounted = c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == volume["name"]);
    match mounted {
        None => v.push(format!(
            "{}: greeter does not mount the volume of Secret {SECRET}",
            id(rollout)
        )),
        Some(m) => {
            if m["readOnly"] != true || !m["subPath"].is_null() || !m["subPathExpr"].is_null() {
                v.push(format!(
                    "{}: the volume of Secret {SECRET} must be mounted readOnly, without subPath",
                    id(rollout)
                ));
            }
            if secrets_dir.is_none() || m["mountPath"].as_str() != secrets_dir {
                v.push(format!(
                    "{}: SECRETS_DIR ({}) must be where Secret {SECRET} is mounted ({})",
                    id(rollout),
                    secrets_dir.unwrap_or("unset"),
                    m["mountPath"]
                ));
            }
        }
    }
    v
}

/// dev/staging: in-cluster Redis StatefulSet with a PVC, AOF persistence and the password from
/// the secret, and greeter pointed at it without TLS. prod: no in-cluster Redis, TLS to managed Redis.
pub fn redis(env: Env, objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    let setting = |key: &str| {
        config_map(objs)
            .and_then(|cm| cm["data"][key].as_str())
            .unwrap_or("")
            .to_string()
    };
    let statefulset = find(objs, "StatefulSet", "redis");
    if !env.in_cluster_redis() {
        if statefulset.is_some() {
            v.push(format!(
                "{}: prod uses managed Redis, not an in-cluster StatefulSet",
                env.name()
            ));
        }
        if setting("REDIS_TLS") != "true"
            || setting("REDIS_HOST") == "redis"
            || setting("REDIS_HOST").is_empty()
        {
            v.push(format!("{}: greeter must reach managed Redis over TLS (REDIS_TLS=true, managed REDIS_HOST)", env.name()));
        }
        return v;
    }
    if setting("REDIS_HOST") != "redis" || setting("REDIS_TLS") != "false" {
        v.push(format!(
            "{}: greeter must use the in-cluster redis Service without TLS",
            env.name()
        ));
    }
    let Some(sts) = statefulset else {
        v.push(format!("{}: StatefulSet/redis is not rendered", env.name()));
        return v;
    };
    if sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        v.push(format!(
            "{}: needs a volumeClaimTemplate (data survives restarts)",
            id(sts)
        ));
    }
    let spec = pod_spec(sts).cloned().unwrap_or_default();
    let Some(c) = containers(&spec).find(|c| c["name"] == "redis") else {
        v.push(format!("{}: no container named redis", id(sts)));
        return v;
    };
    let command: String = ["command", "args"]
        .iter()
        .filter_map(|f| c[f].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    if !command.contains("--appendonly yes") {
        v.push(format!(
            "{}: redis must run with --appendonly yes (acknowledged writes survive a restart)",
            id(sts)
        ));
    }
    if !command.contains("--requirepass") {
        v.push(format!("{}: redis must require a password", id(sts)));
    }
    let password_from_secret = c["env"].as_array().into_iter().flatten().any(|e| {
        e["name"] == "REDIS_PASSWORD"
            && e["valueFrom"]["secretKeyRef"]["name"] == SECRET
            && e["valueFrom"]["secretKeyRef"]["key"] == "REDIS_PASSWORD"
    });
    if !password_from_secret {
        v.push(format!(
            "{}: REDIS_PASSWORD must come from Secret {SECRET}",
            id(sts)
        ));
    }
    v
}

/// The environment's Gateway: class nginx, the environment's issuer (cert-manager's gateway-shim
/// requests the listener's certificate from it), listener `http` (HTTP, 80) and listener `https`
/// (HTTPS, 443, TLS terminated with Secret greeter-tls of this namespace), both for the
/// environment's host and for routes of this namespace only; plain HTTP only redirects to HTTPS.
pub fn gateway(env: Env, objs: &[Value]) -> Vec<String> {
    let Some(gw) = find(objs, "Gateway", GATEWAY) else {
        return vec![format!("Gateway/{GATEWAY} is not rendered")];
    };
    let mut v = Vec::new();
    let issuer = gw.pointer("/metadata/annotations/cert-manager.io~1cluster-issuer");
    if issuer.and_then(Value::as_str) != Some(env.cluster_issuer()) {
        v.push(format!(
            "{}: cert-manager.io/cluster-issuer must be {}",
            id(gw),
            env.cluster_issuer()
        ));
    }
    if gw["spec"]["gatewayClassName"] != "nginx" {
        v.push(format!("{}: gatewayClassName must be nginx", id(gw)));
    }
    let listeners = gw["spec"]["listeners"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let shape: Vec<(&str, &str, i64)> = listeners
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap_or(""),
                l["protocol"].as_str().unwrap_or(""),
                l["port"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    if shape != [("http", "HTTP", 80), ("https", "HTTPS", 443)] {
        v.push(format!(
            "{}: listeners must be http (HTTP, 80) and https (HTTPS, 443), got {shape:?}",
            id(gw)
        ));
    }
    for l in &listeners {
        let at = format!("{} listener {}", id(gw), l["name"]);
        if l["hostname"] != env.host() {
            v.push(format!("{at}: hostname must be {}", env.host()));
        }
        let from = l.pointer("/allowedRoutes/namespaces/from");
        if from.is_some_and(|f| f != "Same") {
            v.push(format!("{at}: only routes of this namespace may attach (allowedRoutes.namespaces.from: Same)"));
        }
        if l["protocol"] == "HTTPS" {
            let tls = &l["tls"];
            let refs = tls["certificateRefs"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let terminated = tls["mode"].is_null() || tls["mode"] == "Terminate";
            let own_secret = refs.len() == 1
                && refs[0]["name"] == TLS_SECRET
                && refs[0]["namespace"].is_null()
                && ["Secret", ""].contains(&refs[0]["kind"].as_str().unwrap_or(""));
            if !terminated || !own_secret {
                v.push(format!(
                    "{at}: must terminate TLS with Secret {TLS_SECRET} of this namespace"
                ));
            }
        }
    }
    for route in of_kind(objs, "HTTPRoute") {
        let on_http = route["spec"]["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == GATEWAY && p["sectionName"] != "https");
        let redirects_only = route["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|rule| {
                let filters = rule["filters"].as_array().cloned().unwrap_or_default();
                rule["backendRefs"].as_array().is_none_or(Vec::is_empty)
                    && filters.len() == 1
                    && filters[0]["type"] == "RequestRedirect"
                    && filters[0]["requestRedirect"]["scheme"] == "https"
            });
        if on_http && !redirects_only {
            v.push(format!(
                "{}: attached to plain HTTP (no sectionName https), so it must only redirect to https",
                id(route)
            ));
        }
    }
    v
}
