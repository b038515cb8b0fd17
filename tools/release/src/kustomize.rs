//! Rendering overlays exactly as Argo CD does (`kubectl kustomize`, no plugins) and reading the
//! greeter image the rendered objects actually run.

use crate::image_ref::GREETER_IMAGE;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Renders a kustomization directory into its objects.
pub fn render(dir: &Path) -> Result<Vec<Value>, String> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| {
            format!("cannot run kubectl ({e}): install kubectl >= 1.27 (built-in kustomize v5)")
        })?;
    if !output.status.success() {
        return Err(format!(
            "kubectl kustomize {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut objects = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(&String::from_utf8_lossy(&output.stdout))
    {
        let object = Value::deserialize(document)
            .map_err(|e| format!("rendered {} is not YAML: {e}", dir.display()))?;
        if !object.is_null() {
            objects.push(object);
        }
    }
    Ok(objects)
}

/// The single greeter image the `greeter` Rollout runs (containers and init containers).
/// Fails when there is no such Rollout, it does not run the greeter image, or runs two versions.
pub fn rollout_image(objects: &[Value]) -> Result<String, String> {
    let rollout = objects
        .iter()
        .find(|o| o["kind"] == "Rollout" && o["metadata"]["name"] == "greeter")
        .ok_or("rendered overlay has no Rollout `greeter`")?;
    let pod = &rollout["spec"]["template"]["spec"];
    let mut images: Vec<&str> = ["initContainers", "containers"]
        .iter()
        .filter_map(|list| pod[list].as_array())
        .flatten()
        .filter_map(|container| container["image"].as_str())
        .filter(|image| is_greeter(image))
        .collect();
    images.dedup();
    match images.as_slice() {
        [image] => Ok(image.to_string()),
        [] => Err(format!("Rollout `greeter` runs no {GREETER_IMAGE} image")),
        several => Err(format!(
            "Rollout `greeter` runs several greeter images: {several:?}"
        )),
    }
}

fn is_greeter(image: &str) -> bool {
    image
        .strip_prefix(GREETER_IMAGE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':') || rest.starts_with('@'))
}
