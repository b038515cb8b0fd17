//! What an aborted canary rolled out: the aborted image, or a change to the rest of the environment.
//!
//! Argo Rollouts starts a canary whenever the Rollout's pod template changes (it keys ReplicaSets
//! on the template's hash, argo-rollouts v1.9.0 utils/replicaset/replicaset.go:44-49), not only for
//! a new image: a ConfigMap literal (the generated name's hash is in the template), a patch,
//! anything in deploy/base or deploy/components that reaches the template. The notification names
//! only the canary's image, which after such a change is the image the environment has run all
//! along. So git decides, comparing the environment's rendered pod template with the greeter image
//! masked out: from the newest commit pinning the aborted digest back to the newest earlier
//! template that differs from it and whose image is not denied (a denied image's canary failed: it
//! never became the stable one). That template stands for what ran before the aborted canary:
//! - another image: the aborted digest is what the canary brought, an image release;
//! - the aborted digest itself: the canary brought the changes made since, not the image.
//!
//! Changes outside the pod template (a Service, replicas, an AnalysisTemplate) start no canary, so
//! they are not what an aborted canary rolled out.

use crate::deny_list::DenyList;
use crate::environment::Environment;
use crate::git::{self, Commit};
use crate::{kustomize, kustomize_inputs, overlay};
use serde_json::Value;
use std::path::Path;

pub enum Cause {
    /// The aborted digest is the release. `also_changed`: commits of that release that also
    /// changed the pod template besides the image (the pin's own commit, or a failed release in
    /// between).
    Image { also_changed: Vec<Commit> },
    /// The environment ran the aborted digest at `ran_before`; `changed_by` changed its pod
    /// template since.
    Configuration {
        ran_before: Commit,
        changed_by: Vec<Commit>,
    },
}

/// The greeter Rollout's pod template as one commit renders it, its image masked.
struct Template {
    commit: Commit,
    template: Value,
}

/// Decides the cause from HEAD's history of everything `env`'s overlay builds on (its inputs in the
/// work tree at `root`). A digest no commit pins is an image release with nothing to compare.
pub fn cause(
    root: &Path,
    env: Environment,
    digest: &str,
    denied: &DenyList,
) -> Result<Cause, String> {
    let inputs: Vec<String> = kustomize_inputs::build_inputs(root, &env.overlay())?
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    let paths: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let kustomization = env.kustomization().to_string_lossy().into_owned();
    // None: the commit has no readable pin (the overlay did not exist yet); Some(None): no digest.
    let pinned_digest = |commit: &Commit| {
        git::file_at(root, &commit.id, &kustomization)
            .and_then(|text| overlay::read_image(&text).ok())
            .map(|image| image.digest)
    };
    let mut commits = git::commits_changing(root, "HEAD", &paths)?.into_iter();
    let Some(aborted) = commits
        .by_ref()
        .find(|commit| pinned_digest(commit).flatten().as_deref() == Some(digest))
    else {
        return Ok(Cause::Image {
            also_changed: Vec::new(),
        });
    };
    let mut newer = template_at(root, env, aborted)?;
    let aborted_template = newer.template.clone();
    let mut changed_by = Vec::new();
    for commit in commits {
        let Some(pin) = pinned_digest(&commit) else {
            break;
        };
        let older = template_at(root, env, commit)?;
        if older.template != newer.template {
            changed_by.push(newer.commit);
        }
        let same_image = pin.as_deref() == Some(digest);
        let failed = !same_image && pin.as_deref().is_some_and(|pin| denied.find(pin).is_some());
        if same_image && older.template != aborted_template {
            return Ok(Cause::Configuration {
                ran_before: older.commit,
                changed_by,
            });
        }
        if !same_image && !failed {
            return Ok(Cause::Image {
                also_changed: changed_by,
            });
        }
        newer = older;
    }
    Ok(Cause::Image {
        also_changed: changed_by,
    })
}

/// The greeter Rollout's pod template in `env` at `commit`, its greeter image replaced by a
/// placeholder wherever it occurs.
fn template_at(root: &Path, env: Environment, commit: Commit) -> Result<Template, String> {
    let tree =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    git::export_tree(root, &commit.id, tree.path())?;
    let objects = kustomize::render(&tree.path().join(env.overlay()))
        .map_err(|e| format!("rendering {env} at {}: {e}", commit.summary))?;
    let image = kustomize::rollout_image(&objects)
        .map_err(|e| format!("{env} at {}: {e}", commit.summary))?;
    let mut template = objects
        .into_iter()
        .find(|o| o["kind"] == "Rollout" && o["metadata"]["name"] == "greeter")
        .map(|rollout| rollout["spec"]["template"].clone())
        .expect("rollout_image found the Rollout");
    mask(&mut template, &image);
    Ok(Template { commit, template })
}

fn mask(value: &mut Value, image: &str) {
    match value {
        Value::String(text) if text == image => *text = "<greeter image>".to_string(),
        Value::Array(items) => items.iter_mut().for_each(|item| mask(item, image)),
        Value::Object(map) => map.values_mut().for_each(|item| mask(item, image)),
        _ => {}
    }
}
