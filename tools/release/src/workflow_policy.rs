//! Repository rules for the GitHub workflows that schema validation and zizmor do not know: every
//! action pinned by full commit SHA with an exact version comment, default-deny permissions with a
//! grant per job, a concurrency group per workflow that a scheduled run shares with no other event,
//! publishing workflows never triggered by bump commits (no build loop), and the release bot's
//! environment reached only by runs whose GITHUB_REF its deployment rules admit.

use serde_json::{json, Value};
use std::fs;
use std::path::Path;

/// Files each bump or promotion commit touches: no publishing workflow may trigger on them.
pub const BUMP_FILES: [&str; 3] = [
    "deploy/overlays/dev/kustomization.yaml",
    "deploy/overlays/staging/kustomization.yaml",
    "deploy/overlays/prod/kustomization.yaml",
];
/// The environment holding the release bot's key, and its deployment branch and tag rules (GitHub
/// settings, documented in docs/release-process.md), which GitHub matches against the GITHUB_REF
/// of the run.
pub const RELEASE_BOT_ENVIRONMENT: &str = "release-bot";
pub const RELEASE_BOT_BRANCHES: [&str; 1] = ["main"];
pub const RELEASE_BOT_TAGS: [&str; 1] = ["v*"];

/// Every violation in the workflows and composite actions of a `.github` directory, as
/// `file: problem` lines.
pub fn check_github_dir(github: &Path) -> Result<Vec<String>, String> {
    let mut violations = Vec::new();
    for file in workflow_files(github)? {
        let text = fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let name = file
            .strip_prefix(github)
            .unwrap_or(&file)
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
    Ok(violations)
}

/// The workflows and local composite actions (`actions/*/action.yml`) of a `.github` directory.
pub fn workflow_files(github: &Path) -> Result<Vec<std::path::PathBuf>, String> {
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
    Ok(files)
}

/// The problems of one workflow file.
pub fn check_workflow(text: &str) -> Result<Vec<String>, String> {
    let workflow: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut problems = check_pins(text);
    match workflow.get("permissions") {
        Some(Value::Object(map)) if map.is_empty() => {}
        _ => problems.push("top-level `permissions` must be `{}` (grant per job)".to_string()),
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
    let events = events(&workflow);
    match concurrency_expression(&workflow) {
        None => problems.push("no top-level `concurrency` group".to_string()),
        Some(group) => problems.extend(check_schedule_concurrency(group, &events)),
    }
    if jobs
        .values()
        .any(|job| job["permissions"]["packages"] == "write")
    {
        problems.extend(check_no_bump_trigger(&events));
    }
    if jobs
        .values()
        .any(|job| environment_name(job) == Some(RELEASE_BOT_ENVIRONMENT))
    {
        problems.extend(check_release_bot_refs(&events));
    }
    Ok(problems)
}

/// The workflow's trigger events with their configuration (`Null` when given as a bare name).
pub fn events(workflow: &Value) -> Vec<(String, Value)> {
    // YAML 1.1 reads the key `on` as the boolean true.
    match workflow.get("on").or_else(|| workflow.get("true")) {
        Some(Value::String(event)) => vec![(event.clone(), Value::Null)],
        Some(Value::Array(events)) => events
            .iter()
            .filter_map(Value::as_str)
            .map(|event| (event.to_string(), Value::Null))
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(e, c)| (e.clone(), c.clone())).collect(),
        _ => Vec::new(),
    }
}

fn environment_name(job: &Value) -> Option<&str> {
    job["environment"]
        .as_str()
        .or_else(|| job["environment"]["name"].as_str())
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// A publishing workflow on branch pushes must list the paths that build, and none may match a bump.
fn check_no_bump_trigger(events: &[(String, Value)]) -> Vec<String> {
    let Some((_, push)) = events.iter().find(|(event, _)| event == "push") else {
        return Vec::new();
    };
    if push.is_null() {
        return vec!["publishes on every push: add `paths`".to_string()];
    }
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

/// A job in the release bot's environment runs only on events whose GITHUB_REF the environment's
/// deployment rules admit; GitHub refuses the others the job (and the key).
fn check_release_bot_refs(events: &[(String, Value)]) -> Vec<String> {
    let refused = |what: String| {
        format!(
            "{what} reach environment `{RELEASE_BOT_ENVIRONMENT}`, which admits only branches {RELEASE_BOT_BRANCHES:?} and tags {RELEASE_BOT_TAGS:?}"
        )
    };
    let mut problems = Vec::new();
    for (event, config) in events {
        match event.as_str() {
            // The branch dispatched from, the default branch (schedule, repository_dispatch), or
            // the deployment's ref (Argo CD creates deployments of `main`: policy/tests/argocd.rs):
            // refs the rules decide on.
            "workflow_dispatch" | "schedule" | "repository_dispatch" | "deployment_status" => {}
            "push" => {
                if config.get("branches").is_none() && config.get("tags").is_none() {
                    problems.push(refused("pushes to any branch or tag".to_string()));
                }
                for ignore in ["branches-ignore", "tags-ignore"] {
                    if config.get(ignore).is_some() {
                        problems.push(refused(format!("pushes not in `{ignore}`")));
                    }
                }
                for branch in strings(&config["branches"])
                    .into_iter()
                    .filter(|b| !RELEASE_BOT_BRANCHES.contains(b))
                {
                    problems.push(refused(format!("pushes to branches `{branch}`")));
                }
                for tag in strings(&config["tags"])
                    .into_iter()
                    .filter(|t| !RELEASE_BOT_TAGS.contains(t))
                {
                    problems.push(refused(format!("pushes of tags `{tag}`")));
                }
            }
            other => problems.push(refused(format!("`{other}` runs"))),
        }
    }
    problems
}

fn concurrency_expression(workflow: &Value) -> Option<&str> {
    let concurrency = workflow.get("concurrency")?;
    concurrency
        .as_str()
        .or_else(|| concurrency["group"].as_str())
}

/// A scheduled run (a daily scan) does work no other run replaces: it shares its concurrency group
/// with no other event, so neither cancels nor supersedes the other while pending.
fn check_schedule_concurrency(group: &str, events: &[(String, Value)]) -> Vec<String> {
    if !events.iter().any(|(event, _)| event == "schedule") {
        return Vec::new();
    }
    let scheduled = match concurrency_group(group, "schedule", 1) {
        Ok(scheduled) => scheduled,
        Err(e) => return vec![e],
    };
    events
        .iter()
        .filter(|(event, _)| event != "schedule")
        .filter_map(|(event, _)| match concurrency_group(group, event, 2) {
            Ok(other) if other == scheduled => Some(format!(
                "`{event}` runs share the scheduled run's concurrency group `{scheduled}`: one cancels or replaces the other"
            )),
            Ok(_) => None,
            Err(e) => Some(e),
        })
        .collect()
}

/// The concurrency group of run `run_id` of `event` on `main` (pull requests: #1): the `${{ … }}`
/// parts of `expression` evaluated as GitHub does, for `||` chains of context properties.
pub fn concurrency_group(expression: &str, event: &str, run_id: u64) -> Result<String, String> {
    let pull_request = event == "pull_request";
    let context = json!({
        "github": {
            "event_name": event,
            "ref": if pull_request { "refs/pull/1/merge" } else { "refs/heads/main" },
            "run_id": run_id,
            "event": if pull_request { json!({"pull_request": {"number": 1}}) } else { json!({}) },
        }
    });
    let mut group = String::new();
    let mut rest = expression;
    while let Some(start) = rest.find("${{") {
        group.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("unclosed `${{{{` in concurrency group {expression:?}"))?;
        let mut value = String::new();
        for operand in rest[start + 3..start + end].split("||").map(str::trim) {
            let is_path = operand.split('.').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
            if !is_path {
                return Err(format!(
                    "cannot evaluate `{operand}` in concurrency group {expression:?} (only `a || b` of context properties)"
                ));
            }
            let found = context.pointer(&format!("/{}", operand.replace('.', "/")));
            value = match found {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) if n.as_u64() != Some(0) => n.to_string(),
                Some(Value::Bool(true)) => "true".to_string(),
                _ => String::new(),
            };
            if !value.is_empty() {
                break;
            }
        }
        group.push_str(&value);
        rest = &rest[start + end + 2..];
    }
    group.push_str(rest);
    Ok(group)
}

/// Every `uses:` is a local action or `owner/repo[/path]@<40 hex>  # vX.Y.Z`: the comment names the
/// exact release the SHA is (a moving major like `v2` names none), and Dependabot updates both.
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
        let versioned = comment
            .and_then(|c| c.split_whitespace().next())
            .is_some_and(is_exact_version);
        if !pinned {
            problems.push(format!(
                "line {}: `{reference}` is not pinned to a full commit SHA",
                number + 1
            ));
        } else if !versioned {
            problems.push(format!(
                "line {}: `{reference}` needs an exact `# vX.Y.Z` version comment",
                number + 1
            ));
        }
    }
    problems
}

/// `vMAJOR.MINOR.PATCH`, digits only.
fn is_exact_version(version: &str) -> bool {
    version.strip_prefix('v').is_some_and(|numbers| {
        let parts: Vec<&str> = numbers.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
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
    fn versions_are_exact_releases() {
        for exact in ["v5.0.0", "v0.36.0", "v2.2.2"] {
            assert!(is_exact_version(exact), "{exact}");
        }
        for moving in ["v2", "v2.2", "v2.2.x", "2.2.2", "v2.2.2.1", "main", "v"] {
            assert!(!is_exact_version(moving), "{moving}");
        }
    }

    #[test]
    fn concurrency_groups_evaluate_like_github() {
        let group =
            "ci-${{ github.event_name }}-${{ github.event.pull_request.number || github.run_id }}";
        assert_eq!(
            concurrency_group(group, "pull_request", 7).unwrap(),
            "ci-pull_request-1"
        );
        assert_eq!(concurrency_group(group, "push", 7).unwrap(), "ci-push-7");
        assert_eq!(
            concurrency_group("x-${{ github.ref }}", "schedule", 1).unwrap(),
            "x-refs/heads/main"
        );
        assert_eq!(
            concurrency_group("x-${{ inputs.from }}", "push", 1).unwrap(),
            "x-"
        );
        assert!(
            concurrency_group("${{ format('{0}', github.ref) }}", "push", 1)
                .unwrap_err()
                .contains("cannot evaluate")
        );
    }
}
