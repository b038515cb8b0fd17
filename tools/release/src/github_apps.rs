//! The repository permissions of the two GitHub Apps, derived from what uses each: the release
//! bot's from the installation tokens the workflows mint, the Argo CD notifier's from the GitHub
//! templates of argocd-notifications-cm (what notifications-engine's GitHub service calls for
//! them), and what docs/release-process.md tells admins to grant.

use serde_json::Value;
use std::collections::BTreeSet;

/// Opens the bump and promotion PRs and keeps them up to date; its key is in the `release-bot`
/// environment.
pub const RELEASE_BOT: &str = "greeter-release-bot";
/// Argo CD notifications' GitHub service; its key is in the cluster (Vault).
pub const ARGOCD_NOTIFIER: &str = "greeter-argocd-notifier";

/// `permission-<input>` of actions/create-github-app-token and the permission's name in the App
/// settings.
const TOKEN_PERMISSIONS: [(&str, &str); 6] = [
    ("contents", "Contents"),
    ("pull-requests", "Pull requests"),
    ("workflows", "Workflows"),
    ("deployments", "Deployments"),
    ("statuses", "Commit statuses"),
    ("checks", "Checks"),
];

/// What notifications-engine (the version argo-cd v3.5.1 pins, pkg/services/github.go `Send`)
/// calls for each key of a template's `github` section.
const NOTIFIER_CALLS: [(&str, &str); 5] = [
    // CreateStatus
    ("status", "Commit statuses: write"),
    // ListDeployments, CreateDeployment, CreateDeploymentStatus
    ("deployment", "Deployments: write"),
    // ListPullRequestsWithCommit, then create or edit a comment on each
    ("pullRequestComment", "Pull requests: write"),
    // CreateCheckRun
    ("checkRun", "Checks: write"),
    // Dispatch (repository_dispatch)
    ("repositoryDispatch", "Contents: write"),
];

/// The permissions the workflows' release bot tokens request, as `Name: level`.
pub fn release_bot_permissions(workflows: &[Value]) -> Result<BTreeSet<String>, String> {
    let mut permissions = BTreeSet::new();
    let steps = workflows
        .iter()
        .filter_map(|w| w["jobs"].as_object())
        .flat_map(|jobs| jobs.values())
        .filter_map(|job| job["steps"].as_array())
        .flatten()
        .filter(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("actions/create-github-app-token@"))
        });
    for step in steps {
        for (input, level) in step["with"].as_object().into_iter().flatten() {
            let Some(permission) = input.strip_prefix("permission-") else {
                continue;
            };
            let name = TOKEN_PERMISSIONS
                .iter()
                .find(|(token, _)| *token == permission)
                .map(|(_, name)| name)
                .ok_or_else(|| {
                    format!(
                        "token permission `{input}` is not known here: add it to TOKEN_PERMISSIONS"
                    )
                })?;
            permissions.insert(format!("{name}: {}", level.as_str().unwrap_or_default()));
        }
    }
    Ok(permissions)
}

/// The permissions the GitHub templates of an argocd-notifications-cm ConfigMap need.
pub fn notifier_permissions(notifications_cm: &Value) -> Result<BTreeSet<String>, String> {
    let mut permissions = BTreeSet::new();
    for (key, template) in notifications_cm["data"].as_object().into_iter().flatten() {
        if !key.starts_with("template.") {
            continue;
        }
        let template: Value = serde_yaml_ng::from_str(template.as_str().unwrap_or_default())
            .map_err(|e| format!("{key} is not YAML: {e}"))?;
        for section in template["github"]
            .as_object()
            .into_iter()
            .flat_map(|github| github.keys())
        {
            if section == "repoURLPath" || section == "revisionPath" {
                continue;
            }
            let permission = NOTIFIER_CALLS
                .iter()
                .find(|(call, _)| call == section)
                .map(|(_, permission)| *permission)
                .ok_or_else(|| {
                    format!("{key}: github.{section} is not known here: add it to NOTIFIER_CALLS")
                })?;
            permissions.insert(permission.to_string());
        }
    }
    Ok(permissions)
}

/// The `Repository permissions` cell of the App's row in a Markdown table (`| \`app\` | … |`).
pub fn documented_permissions(doc: &str, app: &str) -> Result<BTreeSet<String>, String> {
    let row = doc
        .lines()
        .find(|line| line.starts_with(&format!("| `{app}` |")))
        .ok_or_else(|| format!("no table row for GitHub App `{app}`"))?;
    let cell = row
        .split('|')
        .nth(2)
        .ok_or_else(|| format!("the row for `{app}` has no permissions cell"))?;
    Ok(cell
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}
