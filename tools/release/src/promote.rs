//! Promotions copy the exact image one environment runs into the next one, and CI's guard checks
//! that prod only ever receives a digest staging runs (or one prod ran before: a rollback), and
//! that no environment receives a denied digest.

use crate::bump::bump;
use crate::deny_list::{DenyList, DENY_LIST};
use crate::environment::Environment;
use crate::image_ref::ImageRef;
use crate::{git, kustomize, overlay};
use std::fmt::Write as _;
use std::path::Path;

pub struct Promotion {
    pub from: Environment,
    pub to: Environment,
    pub previous: ImageRef,
    pub image: ImageRef,
    pub changed: bool,
}

/// The image an overlay's rendered Rollout runs, in the tree rooted at `root`.
pub fn running_image(root: &Path, env: Environment) -> Result<ImageRef, String> {
    let objects = kustomize::render(&root.join(env.overlay()))?;
    let rendered = kustomize::rollout_image(&objects)?;
    ImageRef::parse(&rendered).map_err(|e| format!("{env} runs `{rendered}`: {e}"))
}

/// Pins `to` to exactly the image (with its digest) that `from` runs.
pub fn promote(root: &Path, from: Environment, to: Environment) -> Result<Promotion, String> {
    if to.promoted_from() != Some(from) {
        return Err(format!(
            "promotions go dev → staging → prod; {from} → {to} is not a promotion step"
        ));
    }
    let image = running_image(root, from)?;
    if image.digest.is_none() {
        return Err(format!("{from} runs {image} without a digest; only digests are promoted (bump {from} with one)"));
    }
    let outcome = bump(root, to, &image)?;
    Ok(Promotion {
        from,
        to,
        previous: outcome.previous,
        image,
        changed: outcome.changed,
    })
}

/// CI's guard on a change (the work tree against `base_ref`): the prod guard, then the deny-list.
/// Ok with one line per check, or Err with every problem found.
pub fn check(root: &Path, base_ref: &str) -> Result<String, String> {
    let base =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    git::export_tree(root, base_ref, base.path())?;
    let outcomes = [
        check_prod(root, base.path(), base_ref),
        check_denied(root, base.path()),
    ];
    let (passed, failed): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
    if failed.is_empty() {
        Ok(passed.into_iter().flatten().collect::<Vec<_>>().join("\n"))
    } else {
        Err(failed
            .into_iter()
            .filter_map(Result::err)
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// Why a change of prod's image in the work tree (against the tree `base` of `base_ref`) is
/// allowed, or why not.
fn check_prod(root: &Path, base: &Path, base_ref: &str) -> Result<String, String> {
    let before = running_image(base, Environment::Prod)?;
    let after = running_image(root, Environment::Prod)?;
    if before == after || (after.digest.is_some() && after.digest == before.digest) {
        return Ok(format!("prod digest unchanged ({after})"));
    }
    let digest = after
        .digest
        .as_deref()
        .ok_or_else(|| format!("prod would run {after}: prod only runs digests"))?;
    let staging = running_image(base, Environment::Staging)?;
    if staging.digest.as_deref() == Some(digest) {
        return Ok(format!(
            "prod receives {digest}, which staging runs at {base_ref}"
        ));
    }
    let prod_history = git::file_history(root, base_ref, &Environment::Prod.kustomization())?;
    let ran_before = prod_history
        .iter()
        .filter_map(|text| overlay::read_image(text).ok())
        .any(|pinned| pinned.digest.as_deref() == Some(digest));
    if ran_before {
        return Ok(format!(
            "prod rolls back to {digest}, which prod ran before {base_ref}"
        ));
    }
    Err(format!(
        "prod would run {digest}, but staging runs {} at {base_ref} and prod never ran it: \
         promote with `scripts/promote staging prod`",
        staging.digest.as_deref().unwrap_or("no digest")
    ))
}

/// The deny-list of the work tree holds: no environment's image changes to a denied digest, and
/// no environment still runs a digest whose canary failed there (the PR that denies a digest also
/// reverts the environment it failed in; environments it passed in keep it until their next change).
fn check_denied(root: &Path, base: &Path) -> Result<String, String> {
    let denied = DenyList::load(root)?;
    let mut problems = Vec::new();
    for env in Environment::ALL {
        let after = running_image(root, env)?;
        let Some(denial) = denied.denial_of(&after) else {
            continue;
        };
        if running_image(base, env)?.digest != after.digest {
            problems.push(format!(
                "{env} would run {after}, but {}",
                denial.describe()
            ));
        } else if denial.environment == env.name() {
            problems.push(format!(
                "{env} still runs {after}, but {} (revert {env} in the PR that denies it: scripts/revert)",
                denial.describe()
            ));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "no environment receives a denied digest, none runs one that failed there ({} in {DENY_LIST})",
            denied.entries.len()
        ))
    } else {
        Err(problems.join("\n"))
    }
}

/// The promotion PR body: old and new images and digests, and the source commits in between.
pub fn summary(repo: &Path, promotion: &Promotion) -> String {
    let Promotion {
        from,
        to,
        previous,
        image,
        ..
    } = promotion;
    let digest = |image: &ImageRef| image.digest.clone().unwrap_or_else(|| "(none)".to_string());
    let mut text =
        format!("## Promote greeter {from} → {to}\n\n| | image | digest |\n|---|---|---|\n");
    let _ = writeln!(
        text,
        "| {to} before | `{previous}` | `{}` |",
        digest(previous)
    );
    let _ = writeln!(
        text,
        "| {to} after ({from} runs it) | `{image}` | `{}` |\n",
        digest(image)
    );
    match (previous.revision(), image.revision()) {
        (Some(old), Some(new)) => {
            let _ = writeln!(text, "Commit range: `{old}..{new}`");
            if let Ok(url) = std::env::var("GITHUB_SERVER_URL").and_then(|server| {
                std::env::var("GITHUB_REPOSITORY")
                    .map(|repository| format!("{server}/{repository}"))
            }) {
                let _ = writeln!(text, "([compare]({url}/compare/{old}...{new}))");
            }
            match (git::resolve_commit(repo, &old), git::resolve_commit(repo, &new)) {
                (Some(old), Some(new)) => {
                    let commits = git::log_oneline(repo, &old, &new, &["service", "Cargo.toml", "Cargo.lock"]).unwrap_or_default();
                    let _ = writeln!(text, "\n{} commit(s) changing the service:\n", commits.len());
                    for commit in commits.iter().take(50) {
                        let _ = writeln!(text, "- {commit}");
                    }
                    if commits.len() > 50 {
                        let _ = writeln!(text, "- … and {} more", commits.len() - 50);
                    }
                }
                _ => text.push_str("\nThe commits are not in this clone's history (fetch with full depth to list them).\n"),
            }
        }
        _ => text.push_str("Commit range: unknown (an image without a release tag).\n"),
    }
    text
}
