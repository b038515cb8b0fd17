//! The files a kustomization builds on: its kustomization.yaml and, transitively, every resource,
//! component, patch, generator input and configuration file it names. A change to any of them
//! changes what the overlay renders.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Every file the kustomization in `dir` (relative to `root`) builds on, relative to `root`.
/// Remote resources are refused: nothing outside the repository may decide what an overlay renders.
pub fn build_inputs(root: &Path, dir: &Path) -> Result<BTreeSet<PathBuf>, String> {
    let mut inputs = BTreeSet::new();
    collect(root, &normalize(dir), &mut inputs)?;
    Ok(inputs)
}

fn collect(root: &Path, dir: &Path, inputs: &mut BTreeSet<PathBuf>) -> Result<(), String> {
    let file = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|name| dir.join(name))
        .find(|file| root.join(file).is_file())
        .ok_or_else(|| format!("{} has no kustomization.yaml", dir.display()))?;
    if !inputs.insert(file.clone()) {
        return Ok(());
    }
    let text = std::fs::read_to_string(root.join(&file))
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let kustomization: Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| format!("{} is not YAML: {e}", file.display()))?;
    for reference in references(&kustomization) {
        if reference.contains("://") || reference.starts_with("github.com/") {
            return Err(format!(
                "{}: remote `{reference}` decides what the overlay renders from outside the repository",
                file.display()
            ));
        }
        let path = normalize(&dir.join(reference));
        if root.join(&path).is_dir() {
            collect(root, &path, inputs)?;
        } else if root.join(&path).is_file() {
            inputs.insert(path);
        } else {
            return Err(format!("{}: `{reference}` does not exist", file.display()));
        }
    }
    Ok(())
}

/// The local paths a kustomization names (kustomize v5 fields; inline patches are not paths).
fn references(kustomization: &Value) -> Vec<&str> {
    let mut paths = Vec::new();
    for field in [
        "resources",
        "bases",
        "components",
        "crds",
        "configurations",
        "generators",
        "transformers",
        "validators",
    ] {
        paths.extend(strings(&kustomization[field]));
    }
    paths.extend(
        strings(&kustomization["patchesStrategicMerge"])
            .into_iter()
            .filter(|patch| !patch.contains('\n')),
    );
    for field in ["patches", "patchesJson6902", "replacements"] {
        for entry in kustomization[field].as_array().into_iter().flatten() {
            paths.extend(entry["path"].as_str());
        }
    }
    paths.extend(kustomization["openapi"]["path"].as_str());
    for generator in ["configMapGenerator", "secretGenerator"] {
        for entry in kustomization[generator].as_array().into_iter().flatten() {
            // `files` entries may name their key: `key=path`.
            paths.extend(
                strings(&entry["files"])
                    .into_iter()
                    .map(|f| f.split_once('=').map_or(f, |(_, path)| path)),
            );
            paths.extend(strings(&entry["envs"]));
            paths.extend(entry["env"].as_str());
        }
    }
    for chart in kustomization["helmCharts"].as_array().into_iter().flatten() {
        paths.extend(chart["valuesFile"].as_str());
    }
    paths
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Resolves `.` and `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn every_named_file_is_an_input_transitively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "deploy/base/kustomization.yaml",
            "configurations: [transform.yaml]\nresources: [rollout.yaml]\n",
        );
        write(root, "deploy/base/transform.yaml", "{}");
        write(root, "deploy/base/rollout.yaml", "{}");
        write(
            root,
            "deploy/components/x/kustomization.yaml",
            "resources: [a.yaml]\n",
        );
        write(root, "deploy/components/x/a.yaml", "{}");
        write(root, "deploy/components/unused/kustomization.yaml", "{}");
        write(
            root,
            "deploy/overlays/prod/kustomization.yaml",
            "resources: [../../base]
components: [../../components/x]
patches:
  - path: rollout.yaml
  - patch: |-
      inline: true
configMapGenerator:
  - name: c
    files: [key=config.toml]
    envs: [prod.env]
",
        );
        for file in ["rollout.yaml", "config.toml", "prod.env"] {
            write(root, &format!("deploy/overlays/prod/{file}"), "");
        }
        let inputs: Vec<String> = build_inputs(root, Path::new("deploy/overlays/prod"))
            .unwrap()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            inputs,
            [
                "deploy/base/kustomization.yaml",
                "deploy/base/rollout.yaml",
                "deploy/base/transform.yaml",
                "deploy/components/x/a.yaml",
                "deploy/components/x/kustomization.yaml",
                "deploy/overlays/prod/config.toml",
                "deploy/overlays/prod/kustomization.yaml",
                "deploy/overlays/prod/prod.env",
                "deploy/overlays/prod/rollout.yaml",
            ]
        );
    }

    #[test]
    fn remote_and_missing_references_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "o/kustomization.yaml",
            "resources: [https://github.com/x/y//base?ref=v1]\n",
        );
        assert!(build_inputs(dir.path(), Path::new("o"))
            .unwrap_err()
            .contains("outside the repository"));
        write(
            dir.path(),
            "o/kustomization.yaml",
            "resources: [gone.yaml]\n",
        );
        assert!(build_inputs(dir.path(), Path::new("o"))
            .unwrap_err()
            .contains("`gone.yaml` does not exist"));
    }
}
