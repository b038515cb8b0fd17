//! Repository rules for the GitHub configuration that schema validation and zizmor do not know:
//! every action pinned by full commit SHA with a version comment, default-deny permissions with a
//! grant per job, a concurrency group per workflow, publishing workflows never triggered by bump
//! commits (no build loop), and CODEOWNERS routing prod and Argo CD to release managers.

use serde_json::Value;
use std::fs;
use std::path::Path;

/// Files each bump or promotion commit touches: no publishing workflow may trigger on them.
pub const BUMP_FILES: [&str; 3] = [
    "deploy/overlays/dev/kustomization.yaml",
    "deploy/overlays/staging/kustomization.yaml",
    "deploy/overlays/prod/kustomization.yaml",
];
pub const RELEASE_MANAGERS: &str = "@greeter-gitops/release-managers";
/// Paths whose changes need a release manager's review.
pub const RELEASE_MANAGED: [&str; 2] = [
    "deploy/overlays/prod/kustomization.yaml",
    "argocd/apps/greeter.yaml",
];

/// Every violation in a `.github` directory, as `file: problem` lines.
pub fn check_github_dir(github: &Path) -> Result<Vec<String>, String> {
    let mut violations = Vec::new();
    let workflows = github.join("workflows");
    let mut files: Vec<_> = fs::read_dir(&workflows)
        .map_err(|e| format!("cannot list {}: {e}", workflows.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    if files.is_empty() {
        return Err(format!("no workflows in {}", workflows.display()));
    }
    if let Ok(actions) = fs::read_dir(github.join("actions")) {
        files.extend(
            actions
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("action.yml"))
                .filter(|p| p.is_file()),
        );
    }
    files.sort();
    for file in &files {
        let text =
            fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let name = file
            .strip_prefix(github)
            .unwrap_or(file)
            .display()
            .to_string();
        let problems = if file.ends_with("action.yml") {
            check_pins(&text)
        } else {
            check_workflow(&text)?
        };
        violations.extend(
            problems
                .into_iter()
                .map(|problem| format!("{name}: {problem}")),
        );
    }
    let codeowners = fs::read_to_string(github.join("CODEOWNERS")).unwrap_or_default();
    violations.extend(
        check_codeowners(&codeowners)
            .into_iter()
            .map(|problem| format!("CODEOWNERS: {problem}")),
    );
    Ok(violations)
}

/// The problems of one workflow file.
pub fn check_workflow(text: &str) -> Result<Vec<String>, String> {
    let workflow: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut problems = check_pins(text);
    match workflow.get("permissions") {
        Some(Value::Object(map)) if map.is_empty() => {}
        _ => problems.push("top-level `permissions` must be `{}` (grant per job)".to_string()),
    }
    if workflow.get("concurrency").is_none() {
        problems.push("no top-level `concurrency` group".to_string());
    }
    let jobs = workflow
        .get("jobs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, job) in &jobs {
        if !job.get("permissions").is_some_and(Value::is_object) {
            problems.push(format!("job `{name}` has no `permissions` mapping"));
        }
    }
    let publishes = jobs
        .values()
        .any(|job| job["permissions"]["packages"] == "write");
    // YAML 1.1 reads the key `on` as the boolean true.
    let triggers = workflow
        .get("on")
        .or_else(|| workflow.get("true"))
        .cloned()
        .unwrap_or(Value::Null);
    if publishes {
        problems.extend(check_no_bump_trigger(&triggers));
    }
    Ok(problems)
}

/// A publishing workflow on branch pushes must list the paths that build, and none may match a bump.
fn check_no_bump_trigger(triggers: &Value) -> Vec<String> {
    let push = match triggers {
        Value::String(event) if event == "push" => {
            return vec!["publishes on every push: add `paths`".to_string()]
        }
        Value::Array(events) if events.iter().any(|e| e == "push") => {
            return vec!["publishes on every push: add `paths`".to_string()]
        }
        Value::Object(map) => match map.get("push") {
            Some(push) => push,
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let tags_only = push.get("tags").is_some() && push.get("branches").is_none();
    let Some(paths) = push.get("paths").and_then(Value::as_array) else {
        return if tags_only {
            Vec::new()
        } else {
            vec!["publishes on branch pushes without a `paths` filter".to_string()]
        };
    };
    let mut problems = Vec::new();
    for file in BUMP_FILES {
        let mut included = false;
        for pattern in paths.iter().filter_map(Value::as_str) {
            match pattern.strip_prefix('!') {
                Some(negated) if glob_match(negated, file) => included = false,
                None if glob_match(pattern, file) => included = true,
                _ => {}
            }
        }
        if included {
            problems.push(format!(
                "a bump commit ({file}) would trigger this publishing workflow: build loop"
            ));
        }
    }
    problems
}

/// Every `uses:` is a local action or `owner/repo[/path]@<40 hex>  # <version>`.
pub fn check_pins(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        let Some(reference) = trimmed.strip_prefix("uses:") else {
            continue;
        };
        let (reference, comment) = match reference.split_once('#') {
            Some((reference, comment)) => (reference.trim(), Some(comment.trim())),
            None => (reference.trim(), None),
        };
        let reference = reference.trim_matches(|c| c == '"' || c == '\'');
        if reference.starts_with("./") {
            continue;
        }
        let sha = reference.rsplit_once('@').map(|(_, sha)| sha).unwrap_or("");
        let pinned = sha.len() == 40
            && sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let versioned = comment.is_some_and(|c| {
            c.starts_with('v') && c[1..].starts_with(|ch: char| ch.is_ascii_digit())
        });
        if !pinned {
            problems.push(format!(
                "line {}: `{reference}` is not pinned to a full commit SHA",
                number + 1
            ));
        } else if !versioned {
            problems.push(format!(
                "line {}: `{reference}` needs a `# vX.Y.Z` version comment",
                number + 1
            ));
        }
    }
    problems
}

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

fn check_codeowners(codeowners: &str) -> Vec<String> {
    RELEASE_MANAGED
        .iter()
        .filter(|path| !owners(codeowners, path).contains(&RELEASE_MANAGERS))
        .map(|path| format!("{path} is not owned by {RELEASE_MANAGERS}"))
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

/// GitHub path-filter globs: `**` crosses directories, `*` and `?` do not.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    fn matches(pattern: &[u8], path: &[u8]) -> bool {
        match pattern {
            [] => path.is_empty(),
            // `**/` is zero or more whole directories.
            [b'*', b'*', b'/', rest @ ..] => {
                matches(rest, path)
                    || path
                        .iter()
                        .position(|&c| c == b'/')
                        .is_some_and(|slash| matches(pattern, &path[slash + 1..]))
            }
            [b'*', b'*', rest @ ..] => (0..=path.len()).any(|i| matches(rest, &path[i..])),
            [b'*', rest @ ..] => (0..=path.len())
                .take_while(|&i| i == 0 || path[i - 1] != b'/')
                .any(|i| matches(rest, &path[i..])),
            [b'?', rest @ ..] => {
                path.first().is_some_and(|&c| c != b'/') && matches(rest, &path[1..])
            }
            [c, rest @ ..] => path.first() == Some(c) && matches(rest, &path[1..]),
        }
    }
    matches(pattern.as_bytes(), path.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_github_path_filter_semantics() {
        assert!(glob_match("service/**", "service/src/main.rs"));
        assert!(glob_match("**", "deploy/overlays/dev/kustomization.yaml"));
        assert!(glob_match(
            "deploy/**/kustomization.yaml",
            "deploy/overlays/dev/kustomization.yaml"
        ));
        assert!(glob_match("*.lock", "Cargo.lock"));
        assert!(!glob_match("*", "deploy/overlays/dev/kustomization.yaml"));
        assert!(!glob_match(
            "service/**",
            "deploy/overlays/dev/kustomization.yaml"
        ));
        assert!(!glob_match("Cargo.toml", "tools/release/Cargo.toml"));
        assert!(!glob_match("**/x", "abx"));
        assert!(glob_match("**/x", "a/b/x"));
    }

    #[test]
    fn codeowners_last_match_wins() {
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
    }
}
