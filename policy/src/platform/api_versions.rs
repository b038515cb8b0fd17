//! The API versions a cluster serves, in the form Argo CD passes them to `helm template
//! --api-versions`: for every served resource that can be listed and watched, `group/version` and
//! `group/version/Kind` (argo-cd v3.5.1 util/argo/argo.go:722-737 `APIResourcesToStrings` with
//! includeKinds, called from controller/state.go:164; the resources come from discovery of every
//! served group version, list+watch only: gitops-engine v0.7.3 pkg/utils/kube/ctl.go:57-101,176-186
//! and pkg/cache/cluster.go:721 — Argo CD v3.5.1 carries gitops-engine in-tree, go.mod:372).

use crate::argocd::render_dir;
use crate::objects::kind;
use crate::upstream;
use serde_json::Value;
use std::collections::BTreeSet;

/// `apiVersion/Kind` of an object: how the API versions list its kind.
pub fn type_of(obj: &Value) -> String {
    format!("{}/{}", obj["apiVersion"].as_str().unwrap_or(""), kind(obj))
}

/// What a CustomResourceDefinition adds to the cluster's API versions: `group/version` and
/// `group/version/Kind` of each served version (a CRD's resources can always be listed and watched).
pub fn served_by(crd: &Value) -> BTreeSet<String> {
    let group = crd["spec"]["group"].as_str().unwrap_or("");
    let crd_kind = crd["spec"]["names"]["kind"].as_str().unwrap_or("");
    crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] == true)
        .filter_map(|v| v["name"].as_str())
        .flat_map(|version| {
            let group_version = format!("{group}/{version}");
            [format!("{group_version}/{crd_kind}"), group_version]
        })
        .collect()
}

/// Everything the CRDs among these objects serve.
pub fn served_by_crds<'a>(objects: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    objects
        .into_iter()
        .filter(|o| kind(o) == "CustomResourceDefinition")
        .flat_map(served_by)
        .collect()
}

/// What a default API server of the pinned Kubernetes (tools/upstream/kubernetes) serves before
/// any CRD exists: its discovery documents (kubernetes api/discovery, one APIResourceList per group
/// version), GA versions only — a default API server enables only its stable group versions
/// (pkg/controlplane/instance.go:446-509 `DefaultAPIResourceConfigSource`) — and only resources
/// Argo CD lists (verbs list and watch, no subresources).
pub fn builtin() -> Result<BTreeSet<String>, String> {
    let discovery = upstream::source_dir("kubernetes")?.join("api/discovery");
    let entries =
        std::fs::read_dir(&discovery).map_err(|e| format!("{}: {e}", discovery.display()))?;
    let mut served = BTreeSet::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        // api__v1.json (core) and apis__GROUP__VERSION.json; apis__GROUP.json lists versions only.
        let Some(version) = file
            .strip_suffix(".json")
            .filter(|f| {
                *f == "api__v1" || (f.starts_with("apis__") && f.matches("__").count() == 2)
            })
            .and_then(|f| f.rsplit("__").next())
        else {
            continue;
        };
        if !is_ga(version) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        let list: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        let group_version = list["groupVersion"].as_str().unwrap_or("").to_string();
        for resource in list["resources"].as_array().into_iter().flatten() {
            let verbs: Vec<&str> = resource["verbs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let is_subresource = resource["name"].as_str().unwrap_or("").contains('/');
            if is_subresource || !verbs.contains(&"list") || !verbs.contains(&"watch") {
                continue;
            }
            let resource_kind = resource["kind"].as_str().unwrap_or("");
            served.insert(format!("{group_version}/{resource_kind}"));
            served.insert(group_version.clone());
        }
    }
    if served.is_empty() {
        return Err(format!(
            "{}: no discovery documents of served group versions",
            discovery.display()
        ));
    }
    Ok(served)
}

/// `v1`, `v2`: a stable version (not alpha or beta).
fn is_ga(version: &str) -> bool {
    version
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// What Argo CD's own CRDs serve: they are installed with Argo CD, before the root Application
/// syncs anything (argo-cd manifests/crds at the pinned tools/upstream/argo-cd version).
pub fn argo_cd() -> Result<BTreeSet<String>, String> {
    let crds = render_dir(&upstream::source_dir("argo-cd")?.join("manifests/crds"))?;
    Ok(served_by_crds(&crds))
}
