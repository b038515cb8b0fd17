//! CODEOWNERS gives release managers everything that reaches prod or gates what reaches it. What
//! reaches prod is derived (every file the prod overlay builds on); the gates are listed, each
//! with why, because no file names them.

use crate::kustomize_inputs::build_inputs;
use crate::workflow_policy::glob_match;
use std::path::Path;

pub const RELEASE_MANAGERS: &str = "@greeter-gitops/release-managers";
/// The overlay Argo CD syncs into prod.
pub const PROD_OVERLAY: &str = "deploy/overlays/prod";
/// What decides whether a change merges, or what publishes, deploys or promotes it. A directory
/// ends in `/` and covers every file under it.
pub const GATES: [&str; 13] = [
    // Workflows: the required checks, image publishing, bump and promotion PRs; CODEOWNERS itself.
    ".github/",
    // The CI entry point of the required `test` check.
    ".ci/",
    // scripts/test (the required check), scripts/promote (prod-guard), scripts/bump-image.
    "scripts/",
    // The policy tests inside the required check.
    "policy/",
    // Release tools: bumps, promotions and the prod guard.
    "tools/",
    // The CRD schemas the manifests are validated against.
    "schemas/",
    // The upstream components the end-to-end tests run against.
    "e2e/",
    // Workspace and lock file: what the gates and the image are built from.
    "Cargo.toml",
    "Cargo.lock",
    // The dependency policy of the required cargo-deny check.
    "deny.toml",
    // What Argo CD syncs and how: the greeter ApplicationSet (greeter-prod), projects, prod's window.
    "argocd/",
    // Building blocks staging runs: staging's canary is prod's gate (prod receives only what
    // staging runs), and prod is one line away from including them.
    "deploy/components/",
    // The deny-list: deleting an entry lets a digest whose canary failed ship again.
    "deploy/denied-images.yaml",
];

/// The owners of `path`: the last matching CODEOWNERS rule wins.
pub fn owners<'a>(codeowners: &'a str, path: &str) -> Vec<&'a str> {
    let mut owners = Vec::new();
    for line in codeowners
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let mut fields = line.split_whitespace();
        let pattern = fields.next().unwrap_or_default();
        if codeowners_match(pattern, path) {
            owners = fields.collect();
        }
    }
    owners
}

/// Every path of the repository at `root` that needs a release manager's review, with why: the
/// files the prod overlay builds on, each gate, and every file under a gate directory.
pub fn release_managed(root: &Path) -> Result<Vec<(String, &'static str)>, String> {
    let mut paths: Vec<(String, &'static str)> = build_inputs(root, Path::new(PROD_OVERLAY))?
        .into_iter()
        .map(|file| (file.display().to_string(), "prod builds on it"))
        .collect();
    for gate in GATES {
        paths.push((gate.to_string(), "a gate"));
        if let Some(dir) = gate.strip_suffix('/') {
            let mut files = Vec::new();
            files_under(root, Path::new(dir), &mut files)?;
            paths.extend(files.into_iter().map(|file| (file, "a gate")));
        }
    }
    Ok(paths)
}

fn files_under(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return Ok(()); // not there (yet): the gate itself is still checked
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let path = dir.join(entry.file_name());
        if entry.path().is_dir() {
            files_under(root, &path, files)?;
        } else {
            files.push(path.display().to_string());
        }
    }
    Ok(())
}

/// The release-managed paths CODEOWNERS gives to someone else.
pub fn check_codeowners(codeowners: &str, release_managed: &[(String, &str)]) -> Vec<String> {
    release_managed
        .iter()
        .filter(|(path, _)| !owners(codeowners, path).contains(&RELEASE_MANAGERS))
        .map(|(path, why)| {
            format!(
                "{path} ({why}) is owned by {:?}, not {RELEASE_MANAGERS}",
                owners(codeowners, path)
            )
        })
        .collect()
}

/// The CODEOWNERS subset this repository uses: `*`, anchored `/dir/` prefixes, anchored files.
fn codeowners_match(pattern: &str, path: &str) -> bool {
    match pattern.strip_prefix('/') {
        _ if pattern == "*" => true,
        Some(dir) if dir.ends_with('/') => path.starts_with(dir),
        Some(file) => glob_match(file, path),
        None => glob_match(&format!("**/{pattern}"), path) || glob_match(pattern, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_match_wins() {
        let text = "*  @org/all\n/deploy/overlays/prod/  @org/rm\n";
        assert_eq!(
            owners(text, "deploy/overlays/prod/kustomization.yaml"),
            ["@org/rm"]
        );
        assert_eq!(
            owners(text, "deploy/overlays/dev/kustomization.yaml"),
            ["@org/all"]
        );
        assert_eq!(
            owners(
                "/deploy/overlays/prod/ @org/rm\n* @org/all\n",
                "deploy/overlays/prod/x"
            ),
            ["@org/all"]
        );
        assert_eq!(owners("/schemas/ @org/rm\n", "schemas/"), ["@org/rm"]);
    }
}
