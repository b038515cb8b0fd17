//! Shared loading for the policy tests: render a kustomization exactly as Argo CD does
//! (`kubectl kustomize`, no plugins, no helm) and parse the output into JSON values.

pub mod argocd;
pub mod deploy;
pub mod network_policy;
pub mod objects;
pub mod observability;
pub mod platform;
pub mod runtime_pods;
pub mod upstream;

use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the workspace that holds this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("policy crate lives one level below the repository root")
        .to_path_buf()
}

/// Renders a kustomization directory with `kubectl kustomize` and returns every object.
/// Panics with the kubectl error when the tree does not render: a broken tree is a failed test.
pub fn render(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run kubectl (install kubectl with built-in kustomize v5): {e}")
        });
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    parse_documents(&String::from_utf8_lossy(&output.stdout))
        .unwrap_or_else(|e| panic!("rendered {} is not valid YAML: {e}", dir.display()))
}

/// Parses a multi-document YAML stream into JSON values, skipping empty documents.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, serde_yaml_ng::Error> {
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value = Value::deserialize(doc)?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// Runs `scripts/validate` on one kustomization root (a fixture) and returns whether it passed
/// and everything it printed. Fails the test when the validators are not installed.
pub fn run_validate(root: &Path) -> (bool, String) {
    let output = Command::new(repo_root().join("scripts/validate"))
        .arg(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/validate: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("is not installed"),
        "scripts/validate needs its tools: run scripts/setup (kubernetes-validate, check-jsonschema)\n{text}"
    );
    (output.status.success(), text)
}
