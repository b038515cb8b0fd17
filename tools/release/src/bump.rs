//! Pinning one environment's greeter image, verified by rendering the overlay afterwards.

use crate::deny_list::DenyList;
use crate::environment::Environment;
use crate::image_ref::ImageRef;
use crate::{kustomize, overlay};
use std::fs;
use std::path::Path;

pub struct Bump {
    pub previous: ImageRef,
    pub changed: bool,
}

/// Pins `env` to exactly `image`: edits only the greeter `images:` entry, then checks that the
/// rendered Rollout runs exactly `image`. On a failed check the file is restored and an error returned.
/// A digest on the deny-list is refused for every environment.
pub fn bump(root: &Path, env: Environment, image: &ImageRef) -> Result<Bump, String> {
    env.check_pin(image)?;
    DenyList::load(root)?.refuse(image)?;
    let path = root.join(env.kustomization());
    let original =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let previous =
        overlay::read_image(&original).map_err(|e| format!("{}: {e}", path.display()))?;
    let edited =
        overlay::set_image(&original, image).map_err(|e| format!("{}: {e}", path.display()))?;
    let changed = edited != original;
    if changed {
        write_replacing(&path, &edited)?;
    }
    let verified = kustomize::render(&root.join(env.overlay()))
        .and_then(|objects| kustomize::rollout_image(&objects));
    match verified {
        Ok(rendered) if rendered == image.to_string() => Ok(Bump { previous, changed }),
        outcome => {
            if changed {
                write_replacing(&path, &original)?;
            }
            let reason = outcome.map_or_else(
                |e| e,
                |rendered| format!("the rendered Rollout runs {rendered}"),
            );
            Err(format!(
                "{env} does not render {image} after the edit (file restored): {reason}"
            ))
        }
    }
}

/// Replaces a file through a sibling temporary file and a rename, keeping its permissions,
/// so an interrupted run never leaves half a file behind.
pub fn write_replacing(path: &Path, contents: &str) -> Result<(), String> {
    let temporary = path.with_extension("yaml.release-tools.tmp");
    let permissions = fs::metadata(path).map_err(|e| e.to_string())?.permissions();
    fs::write(&temporary, contents)
        .and_then(|()| fs::set_permissions(&temporary, permissions))
        .and_then(|()| fs::rename(&temporary, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
