//! What delivers ConfigMaps and Secrets: the objects themselves, the Secret an ExternalSecret makes
//! the External Secrets Operator create, and Secrets a program the platform runs writes at runtime.

use super::placement::Placed;
use crate::objects::{containers, kind, name, pod_spec};
use serde_json::Value;
use std::collections::BTreeSet;

/// A ConfigMap or Secret that exists once `by` has been applied.
pub struct Supply<'a> {
    pub kind: String,
    pub name: String,
    /// Its keys; `None` when they are only known at runtime.
    pub keys: Option<BTreeSet<String>>,
    pub by: &'a Placed<'a>,
    /// Whether it outlives a hook `by` that is deleted once it succeeded.
    pub outlives_hook: bool,
}

/// A Secret no manifest contains because a program writes it when it runs. Each entry names the
/// object that runs the program, an argument that program must be given for the entry to apply,
/// and (in its comment) the upstream code that writes the Secret.
pub struct RuntimeSecret {
    /// The Secret, in the creator's namespace.
    pub secret: &'static str,
    pub creator_kind: &'static str,
    pub creator_name: &'static str,
    pub argument: &'static str,
}

pub const RUNTIME_SECRETS: &[RuntimeSecret] = &[
    // nginx-gateway-fabric 2.6.7: the control plane's TLS for the data planes' agents. The
    // PreSync hook Job (templates/certs-job.yaml) runs `gateway generate-certs`, which creates a CA
    // and writes the server certificate to Secret --server-tls-secret and the agents' to
    // --agent-tls-secret in its namespace (nginx/nginx-gateway-fabric v2.6.7
    // cmd/gateway/certs.go `generateCertificates` → `createSecrets`). The control plane mounts the
    // server's; it copies the agents' into each Gateway's namespace itself.
    RuntimeSecret {
        secret: "server-tls",
        creator_kind: "Job",
        creator_name: "nginx-gateway-fabric-cert-generator",
        argument: "--server-tls-secret=server-tls",
    },
    // kube-prometheus-stack 88.2.0: the Prometheus Operator's admission webhook certificate, the
    // same way with jkroepke/kube-webhook-certgen 1.8.5 (cmd/create.go `createCommand` →
    // `SaveCertsToSecret`), run by a PreSync hook Job.
    RuntimeSecret {
        secret: "kube-prometheus-stack-admission",
        creator_kind: "Job",
        creator_name: "kube-prometheus-stack-admission-create",
        argument: "--secret-name=kube-prometheus-stack-admission",
    },
];

/// Everything placed objects deliver.
pub fn supplies<'a>(placed: &'a [Placed<'a>]) -> Vec<Supply<'a>> {
    let mut found = Vec::new();
    for by in placed {
        let obj = by.obj;
        let keys_of = |fields: &[&str]| -> BTreeSet<String> {
            let maps = fields.iter().filter_map(|f| obj[*f].as_object());
            maps.flat_map(|m| m.keys().cloned()).collect()
        };
        match kind(obj) {
            "ConfigMap" => found.push(Supply {
                kind: "ConfigMap".into(),
                name: name(obj).into(),
                keys: Some(keys_of(&["data", "binaryData"])),
                by,
                outlives_hook: false,
            }),
            "Secret" => found.push(Supply {
                kind: "Secret".into(),
                name: name(obj).into(),
                keys: Some(keys_of(&["data", "stringData"])),
                by,
                outlives_hook: false,
            }),
            // Owned by the ExternalSecret (creationPolicy Owner): deleted with it.
            "ExternalSecret" => found.extend(external_secret_target(obj).map(
                |(kind, name, keys)| Supply {
                    kind,
                    name,
                    keys,
                    by,
                    outlives_hook: false,
                },
            )),
            _ => {}
        }
        found.extend(
            RUNTIME_SECRETS
                .iter()
                .filter(|entry| creates(by, entry))
                .map(|entry| Supply {
                    kind: "Secret".into(),
                    name: entry.secret.into(),
                    keys: None,
                    by,
                    // Written through the API, owned by nothing: it stays after its Job is gone.
                    outlives_hook: true,
                }),
        );
    }
    found
}

/// The object an ExternalSecret makes ESO create: kind (`target.manifest`, else Secret), name
/// (`target.name`, else the ExternalSecret's) and keys (`target.template.data` and `data[].secretKey`;
/// unknown with `dataFrom` or `templateFrom`). `None` when its creationPolicy creates nothing
/// (Merge, None). Semantics from the field descriptions of the ExternalSecret CRD that
/// external-secrets 2.9.0 installs (templates/crds/externalsecret.yaml, `target`).
fn external_secret_target(es: &Value) -> Option<(String, String, Option<BTreeSet<String>>)> {
    let target = &es["spec"]["target"];
    let policy = target["creationPolicy"].as_str().unwrap_or("Owner");
    if !matches!(policy, "Owner" | "Orphan" | "CreateOrMerge") {
        return None;
    }
    let kind = target["manifest"]["kind"].as_str().unwrap_or("Secret");
    let name = target["name"].as_str().unwrap_or(name(es));
    let has = |value: &Value| value.as_array().is_some_and(|a| !a.is_empty());
    let keys =
        (!has(&es["spec"]["dataFrom"]) && !has(&target["template"]["templateFrom"])).then(|| {
            let templated = target["template"]["data"].as_object().into_iter().flatten();
            let direct = es["spec"]["data"].as_array().into_iter().flatten();
            templated
                .map(|(key, _)| key.clone())
                .chain(direct.filter_map(|d| d["secretKey"].as_str().map(String::from)))
                .collect()
        });
    Some((kind.into(), name.into(), keys))
}

/// Whether this placed object runs the program of a runtime Secret entry, with its argument.
fn creates(by: &Placed, entry: &RuntimeSecret) -> bool {
    kind(by.obj) == entry.creator_kind
        && name(by.obj) == entry.creator_name
        && pod_spec(by.obj).into_iter().flat_map(containers).any(|c| {
            let args = c["args"].as_array().into_iter().flatten();
            args.filter_map(Value::as_str).any(|a| a == entry.argument)
        })
}

/// Runtime Secret entries that no longer describe the platform: their creator is not rendered
/// (with its argument), or nothing needs their Secret.
pub fn unused_runtime_secrets(
    placed: &[Placed],
    needed: &BTreeSet<(String, String)>,
) -> Vec<String> {
    RUNTIME_SECRETS
        .iter()
        .filter_map(|entry| {
            let creators: Vec<&Placed> = placed.iter().filter(|p| creates(p, entry)).collect();
            if creators.is_empty() {
                return Some(format!(
                    "runtime Secret {}: no {} {} passing {} is rendered",
                    entry.secret, entry.creator_kind, entry.creator_name, entry.argument
                ));
            }
            let used = creators
                .iter()
                .any(|c| needed.contains(&(c.namespace.to_string(), entry.secret.to_string())));
            (!used).then(|| format!("runtime Secret {}: nothing needs it", entry.secret))
        })
        .collect()
}
