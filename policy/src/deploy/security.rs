//! Pod Security "restricted", dedicated identities, namespaces, pinned images, no secret data.

use super::{Env, IMAGE};
use crate::objects::{containers, find, id, kind, name, namespace, of_kind, workloads};
use serde_json::Value;

/// Every pod: runAsNonRoot, numeric non-root user, no privilege escalation, read-only root FS,
/// drop ALL, seccomp RuntimeDefault, no service account token, a dedicated ServiceAccount
/// that exists and does not mount its token either.
pub fn pod_security(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for (w, spec) in workloads(objs) {
        let pod = &spec["securityContext"];
        if spec["automountServiceAccountToken"] != Value::Bool(false) {
            v.push(format!(
                "{}: automountServiceAccountToken must be false",
                id(w)
            ));
        }
        match spec["serviceAccountName"].as_str() {
            None | Some("default") => {
                v.push(format!("{}: needs a dedicated serviceAccountName", id(w)))
            }
            Some(sa) => match find(objs, "ServiceAccount", sa) {
                None => v.push(format!("{}: ServiceAccount {sa} is not rendered", id(w))),
                Some(o) if o["automountServiceAccountToken"] != Value::Bool(false) => v.push(
                    format!("ServiceAccount/{sa}: automountServiceAccountToken must be false"),
                ),
                Some(_) => {}
            },
        }
        for c in containers(spec) {
            let cid = format!("{} container {}", id(w), c["name"].as_str().unwrap_or("?"));
            let sc = &c["securityContext"];
            // Container settings win over pod settings, as in the kubelet.
            let effective = |field: &str| {
                if sc[field].is_null() {
                    &pod[field]
                } else {
                    &sc[field]
                }
            };
            if effective("runAsNonRoot") != &Value::Bool(true) {
                v.push(format!("{cid}: runAsNonRoot must be true"));
            }
            if effective("runAsUser").as_i64().is_none_or(|uid| uid <= 0) {
                v.push(format!("{cid}: runAsUser must be a numeric non-root UID"));
            }
            if sc["allowPrivilegeEscalation"] != Value::Bool(false) {
                v.push(format!("{cid}: allowPrivilegeEscalation must be false"));
            }
            if sc["readOnlyRootFilesystem"] != Value::Bool(true) {
                v.push(format!("{cid}: readOnlyRootFilesystem must be true"));
            }
            let drops = sc.pointer("/capabilities/drop").and_then(Value::as_array);
            if !drops.is_some_and(|d| d.iter().any(|c| c == "ALL")) {
                v.push(format!("{cid}: capabilities must drop ALL"));
            }
            if sc
                .pointer("/capabilities/add")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                v.push(format!("{cid}: must not add capabilities"));
            }
            if effective("seccompProfile")["type"] != "RuntimeDefault" {
                v.push(format!("{cid}: seccompProfile must be RuntimeDefault"));
            }
        }
    }
    v
}

/// One Namespace named for the environment, enforcing Pod Security "restricted", and every
/// namespaced object in it.
pub fn namespaces(env: Env, objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    let want = env.namespace();
    let rendered: Vec<&Value> = of_kind(objs, "Namespace").collect();
    if rendered.len() != 1 || name(rendered[0]) != want {
        v.push(format!(
            "expected exactly one Namespace {want}, got {:?}",
            rendered.iter().map(|n| name(n)).collect::<Vec<_>>()
        ));
    }
    for ns in rendered {
        let label = |k: &str| {
            ns.pointer(&format!("/metadata/labels/{}", k.replace('/', "~1")))
                .and_then(Value::as_str)
        };
        if label("pod-security.kubernetes.io/enforce") != Some("restricted") {
            v.push(format!(
                "{}: label pod-security.kubernetes.io/enforce must be restricted",
                id(ns)
            ));
        }
    }
    for o in objs.iter().filter(|o| !CLUSTER_SCOPED.contains(&kind(o))) {
        if namespace(o) != want {
            v.push(format!(
                "{}: namespace {:?}, expected {want}",
                id(o),
                namespace(o)
            ));
        }
    }
    v
}

const CLUSTER_SCOPED: [&str; 6] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterSecretStore",
    "ClusterIssuer",
    "ClusterAnalysisTemplate",
];

/// No Secret with data in git: secrets come from ExternalSecrets.
pub fn no_secret_data(objs: &[Value]) -> Vec<String> {
    of_kind(objs, "Secret")
        .filter(|s| {
            ["data", "stringData"]
                .iter()
                .any(|f| s[f].as_object().is_some_and(|m| !m.is_empty()))
        })
        .map(|s| {
            format!(
                "{}: Secret with data rendered from git; use an ExternalSecret",
                id(s)
            )
        })
        .collect()
}

/// Never `latest` or untagged; staging/prod by digest; dev's greeter image by digest or an
/// immutable `sha-<7+ hex>` tag.
pub fn images_pinned(env: Env, objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for (w, spec) in workloads(objs) {
        for c in containers(spec) {
            let image = c["image"].as_str().unwrap_or("");
            let (reference, digest) = match image.split_once('@') {
                Some((r, d)) => (r, Some(d)),
                None => (image, None),
            };
            // A ':' in the last path component separates the tag (a registry port comes earlier).
            let tag = reference
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, t)| t);
            let repository = tag.map_or(reference, |t| &reference[..reference.len() - t.len() - 1]);
            let cid = format!("{} image {image}", id(w));
            if tag == Some("latest") {
                v.push(format!("{cid}: never use latest"));
            }
            match digest {
                Some(d) if !is_sha256_digest(d) => {
                    v.push(format!("{cid}: digest must be sha256:<64 hex>"))
                }
                Some(_) => {}
                None if env.requires_digest() => v.push(format!(
                    "{cid}: {} images must be pinned by digest",
                    env.name()
                )),
                None if repository == IMAGE && !tag.is_some_and(is_sha_tag) => v.push(format!(
                    "{cid}: greeter image needs a digest or a sha-<7+ hex> tag"
                )),
                None if tag.is_none() => v.push(format!("{cid}: image is not pinned")),
                None => {}
            }
        }
    }
    v
}

fn is_hex(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && is_hex(h))
}

fn is_sha_tag(tag: &str) -> bool {
    tag.strip_prefix("sha-")
        .is_some_and(|h| h.len() >= 7 && is_hex(h))
}

/// The overlay's kustomization.yaml pins the greeter image in an `images:` entry (what CI's bump
/// PRs edit): staging/prod by `digest`, dev by digest or a `sha-<hex>` `newTag`.
pub fn image_entry(env: Env, kustomization: &Value) -> Vec<String> {
    let entries: Vec<&Value> = kustomization["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["name"] == IMAGE)
        .collect();
    let [entry] = entries.as_slice() else {
        return vec![format!(
            "{}: needs exactly one images entry named {IMAGE}, got {}",
            env.name(),
            entries.len()
        )];
    };
    let digest_ok = entry["digest"].as_str().is_some_and(is_sha256_digest);
    let tag_ok = entry["newTag"].as_str().is_some_and(is_sha_tag);
    match (env.requires_digest(), digest_ok, tag_ok) {
        (true, false, _) => vec![format!(
            "{}: images entry needs digest: sha256:<64 hex>, got {entry}",
            env.name()
        )],
        (false, false, false) => vec![format!(
            "{}: images entry needs a digest or newTag sha-<7+ hex>, got {entry}",
            env.name()
        )],
        _ => Vec::new(),
    }
}
