//! Closing the loop after Argo Rollouts aborted a canary: pin the environment back to the image it
//! ran before the aborted one, and deny the aborted digest, in the work tree (the revert workflow
//! turns the result into a PR).
//!
//! The image to return to comes from git, because the controller's notification cannot name it (a
//! Rollout records only its stable pod-template hash): it is the newest earlier pin of the
//! environment whose digest is neither the aborted one nor denied. That is the stable image unless
//! a newer release replaced an unfinished canary; then the pin returned to is that release, which
//! gets a full canary of its own (it is newer than the stable ReplicaSet, so it is no rollback).
//!
//! Only an image release is reverted: when the canary rolled out another change to the pod template
//! with an image the environment already ran (abort_cause), nothing is pinned or denied and the
//! revert is refused, naming that change.

use crate::abort_cause::{self, Cause};
use crate::abort_payload::AbortPayload;
use crate::bump::{bump, write_replacing};
use crate::deny_list::{self, Denial, DenyList, DENY_LIST};
use crate::image_ref::ImageRef;
use crate::{git, overlay};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

pub struct Revert {
    /// The environment's pin before and after, when it was changed.
    pub restored: Option<(ImageRef, ImageRef)>,
    /// Whether the aborted digest was added to the deny-list (false: it already was).
    pub denied: bool,
    /// What the environment pins now.
    pub pinned: ImageRef,
    /// `<short id> <subject>` of the commits of the aborted release that also changed the pod
    /// template besides the image: this revert leaves those changes in place.
    pub also_changed: Vec<String>,
}

/// Applies the revert for `payload` to the work tree at `root`. Idempotent: a second run finds the
/// environment off the aborted digest and the digest denied, and changes nothing.
pub fn revert(root: &Path, payload: &AbortPayload) -> Result<Revert, String> {
    let env = payload.environment;
    let digest = payload.digest();
    let deny_path = DenyList::path(root);
    let deny_text = fs::read_to_string(&deny_path)
        .map_err(|e| format!("cannot read {}: {e}", deny_path.display()))?;
    let denied = DenyList::parse(&deny_text).map_err(|e| format!("{DENY_LIST}: {e}"))?;

    let kustomization = root.join(env.kustomization());
    let current_text = fs::read_to_string(&kustomization)
        .map_err(|e| format!("cannot read {}: {e}", kustomization.display()))?;
    let current = overlay::read_image(&current_text)
        .map_err(|e| format!("{}: {e}", kustomization.display()))?;
    let history: Vec<ImageRef> = git::file_history(root, "HEAD", &env.kustomization())?
        .iter()
        .filter_map(|text| overlay::read_image(text).ok())
        .collect();
    let pins_aborted = |pin: &ImageRef| pin.digest.as_deref() == Some(digest);
    if !pins_aborted(&current) && !history.iter().any(pins_aborted) {
        return Err(format!(
            "{env} never pinned {digest} in this repository's history: refusing to deny it (is the \
             payload about this repository? is the clone shallow?)"
        ));
    }
    let also_changed = match abort_cause::cause(root, env, digest, &denied)? {
        Cause::Image { also_changed } => also_changed,
        Cause::Configuration {
            ran_before,
            changed_by,
        } => {
            let changes: Vec<String> = changed_by
                .iter()
                .map(|commit| format!("`{}`", commit.summary))
                .collect();
            return Err(format!(
                "{env}: the aborted canary ran {digest}, which {env} already ran at `{}` (not \
                 denied: taken as past its canary); {env}'s pod template changed besides the \
                 image after it in {}, which is what the canary rolled out: revert that change by \
                 hand. Nothing denied, {env}'s pin left as it is.",
                ran_before.summary,
                changes.join(", ")
            ));
        }
    };

    let restored = if pins_aborted(&current) {
        let stable = history
            .iter()
            .find(|pin| !pins_aborted(pin) && denied.denial_of(pin).is_none())
            .ok_or_else(|| {
                format!(
                    "{env} pinned no image before {digest} that is not denied: pin {env} by hand \
                     (scripts/bump-image) to an image that passed its canary"
                )
            })?;
        bump(root, env, stable)?;
        Some((current.clone(), stable.clone()))
    } else {
        None
    };
    let pinned = restored
        .as_ref()
        .map_or(current, |(_, stable)| stable.clone());

    let denial_added = denied.find(digest).is_none();
    if denial_added {
        let denial = Denial {
            digest: digest.to_string(),
            tag: payload.aborted_image.tag.clone(),
            environment: env.name().to_string(),
            analysis_run: payload.analysis_run.as_ref().map(|run| run.name.clone()),
            at: payload.aborted_at.clone(),
            reason: payload.reason(),
        };
        let written = deny_list::append(&deny_text, &denial)
            .map_err(|e| format!("{DENY_LIST}: {e}"))
            .and_then(|text| write_replacing(&deny_path, &text));
        if let Err(error) = written {
            if restored.is_some() {
                write_replacing(&kustomization, &current_text)?;
            }
            return Err(error);
        }
    }
    Ok(Revert {
        restored,
        denied: denial_added,
        pinned,
        also_changed: also_changed.into_iter().map(|c| c.summary).collect(),
    })
}

/// The revert PR body: what was aborted and why, what the environment returns to, and how a human
/// un-denies the digest.
pub fn summary(payload: &AbortPayload, revert: &Revert) -> String {
    let env = payload.environment;
    let digest = payload.digest();
    let mut text = format!(
        "## Revert greeter in {env}: canary aborted\n\nArgo Rollouts aborted revision {} of Rollout \
         `{}` in `{}` at {}.\n\n| | image |\n|---|---|\n| aborted, now denied | `{}` |\n",
        payload.revision, payload.rollout, payload.namespace, payload.aborted_at, payload.aborted_image
    );
    match &revert.restored {
        Some((_, stable)) => {
            let _ = writeln!(
                text,
                "| {env} returns to (its newest earlier pin that is not denied) | `{stable}` |"
            );
        }
        None => {
            let _ = writeln!(
                text,
                "| {env} already pins something else on main, left as it is | `{}` |",
                revert.pinned
            );
        }
    }
    let _ = writeln!(
        text,
        "\nPod-template hashes at the abort: canary `{}`, stable `{}` (`kubectl argo rollouts get \
         rollout {} -n {}` shows the stable ReplicaSet's image; it should be the one restored).\n",
        payload.canary_pod_template_hash,
        payload.stable_pod_template_hash,
        payload.rollout,
        payload.namespace
    );
    match &payload.analysis_run {
        Some(run) => {
            let _ = writeln!(
                text,
                "AnalysisRun `{}` ({}):\n\n```text\n{}\n```\n",
                run.name,
                if run.phase.is_empty() {
                    "no phase"
                } else {
                    &run.phase
                },
                deny_list::normalise(&payload.reason())
            );
        }
        None => {
            let _ = writeln!(text, "{}.\n", payload.reason());
        }
    }
    if !revert.also_changed.is_empty() {
        let _ = writeln!(
            text,
            "The release that brought `{digest}` also changed {env}'s pod template besides the image \
             ({}). This revert leaves that change in place: if it caused the abort, the next \
             canary aborts too, and its revert is refused naming it.\n",
            revert
                .also_changed
                .iter()
                .map(|commit| format!("`{commit}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if revert.denied {
        let _ = writeln!(
            text,
            "`{digest}` is added to `{DENY_LIST}`: `scripts/bump-image`, `scripts/promote` and CI \
             (prod-guard) refuse to ship it again. To un-deny it, delete its entry in a reviewed PR."
        );
    } else {
        let _ = writeln!(text, "`{digest}` was already in `{DENY_LIST}`.");
    }
    text
}
