//! What GitHub is told outside the workflows: CODEOWNERS (release managers own everything that
//! reaches prod or gates it), the GitHub Apps' permissions and the `release-bot` environment's rules
//! as docs/release-process.md tells admins to set them, and base images pinned so Dependabot
//! updates them. Each check also runs on a broken copy and must catch it.

use release_tools::base_images::check_dockerfile;
use release_tools::codeowners::{check_codeowners, release_managed, PROD_OVERLAY};
use release_tools::github_apps::{
    documented_permissions, notifier_permissions, release_bot_permissions, ARGOCD_NOTIFIER,
    RELEASE_BOT,
};
use release_tools::workflow_policy::{workflow_files, RELEASE_BOT_BRANCHES, RELEASE_BOT_TAGS};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn codeowners_gives_release_managers_everything_that_reaches_prod_or_gates_it() {
    let paths = release_managed(&repo_root()).unwrap();
    assert!(paths.iter().any(|(p, _)| p == "deploy/base/rollout.yaml"));
    assert!(paths.iter().any(|(p, _)| p == "scripts/test"));
    let violations = check_codeowners(&read(".github/CODEOWNERS"), &paths);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn a_path_left_to_others_is_caught() {
    let real = read(".github/CODEOWNERS");
    let paths = release_managed(&repo_root()).unwrap();
    let without_base = real.replace(
        "/deploy/base/           @greeter-gitops/release-managers\n",
        "",
    );
    let violations = check_codeowners(&without_base, &paths);
    assert!(
        violations.contains(&"deploy/base/rollout.yaml (prod builds on it) is owned by [\"@greeter-gitops/maintainers\"], not @greeter-gitops/release-managers".to_string()),
        "{violations:#?}"
    );
    // A narrower rule after the gates takes one file back (the last match wins).
    let narrower = format!("{real}/scripts/test @greeter-gitops/maintainers\n");
    assert_eq!(
        check_codeowners(&narrower, &paths),
        ["scripts/test (a gate) is owned by [\"@greeter-gitops/maintainers\"], not @greeter-gitops/release-managers"]
    );
    // Whoever may delete a deny-list entry may ship a digest whose canary failed.
    let without_deny_list = real.replace(
        "/deploy/denied-images.yaml @greeter-gitops/release-managers\n",
        "",
    );
    assert!(check_codeowners(&without_deny_list, &paths)
        .iter()
        .any(|v| v.starts_with("deploy/denied-images.yaml (a gate)")));
    // Gates that do not exist yet are owned before they arrive.
    let without_schemas = real.replace(
        "/schemas/               @greeter-gitops/release-managers\n",
        "",
    );
    assert!(check_codeowners(&without_schemas, &paths)
        .iter()
        .any(|v| v.starts_with("schemas/ (a gate)")));
}

#[test]
fn what_reaches_prod_follows_the_prod_overlay() {
    // A copy of deploy/ whose prod overlay starts to build on a directory nothing else names.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo_root().join("deploy"), &dir.path().join("deploy"));
    let overlay = dir.path().join(PROD_OVERLAY).join("kustomization.yaml");
    let text = fs::read_to_string(&overlay).unwrap();
    fs::write(
        &overlay,
        text.replace("  - ../../base\n", "  - ../../base\n  - ../extra\n"),
    )
    .unwrap();
    fs::create_dir_all(dir.path().join("deploy/overlays/extra")).unwrap();
    fs::write(
        dir.path().join("deploy/overlays/extra/kustomization.yaml"),
        "resources: [limits.yaml]\n",
    )
    .unwrap();
    fs::write(dir.path().join("deploy/overlays/extra/limits.yaml"), "{}\n").unwrap();
    let paths = release_managed(dir.path()).unwrap();
    let violations = check_codeowners(&read(".github/CODEOWNERS"), &paths);
    assert_eq!(
        violations,
        [
            "deploy/overlays/extra/kustomization.yaml (prod builds on it) is owned by [\"@greeter-gitops/maintainers\"], not @greeter-gitops/release-managers",
            "deploy/overlays/extra/limits.yaml (prod builds on it) is owned by [\"@greeter-gitops/maintainers\"], not @greeter-gitops/release-managers",
        ]
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn workflows() -> Vec<Value> {
    workflow_files(&repo_root().join(".github"))
        .unwrap()
        .iter()
        .filter(|f| !f.ends_with("action.yml"))
        .map(|f| serde_yaml_ng::from_str(&fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}

#[test]
fn the_release_bot_is_documented_with_exactly_what_the_workflows_mint() {
    let minted = release_bot_permissions(&workflows()).unwrap();
    assert!(minted.contains("Workflows: write"), "{minted:?}");
    let documented = documented_permissions(&read("docs/release-process.md"), RELEASE_BOT).unwrap();
    assert_eq!(documented, minted);
}

#[test]
fn the_argocd_notifier_is_documented_with_exactly_what_its_templates_call() {
    let needed = notifier_permissions(&yaml("argocd/config/argocd-notifications-cm.yaml")).unwrap();
    assert_eq!(needed.iter().collect::<Vec<_>>(), ["Deployments: write"]);
    let documented =
        documented_permissions(&read("docs/release-process.md"), ARGOCD_NOTIFIER).unwrap();
    assert_eq!(documented, needed);
    // A commit status in a template needs one more permission, which the docs must then list.
    let mut with_status = yaml("argocd/config/argocd-notifications-cm.yaml");
    with_status["data"]["template.app-deployed"] = Value::String(
        "github:\n  status:\n    state: success\n  deployment:\n    state: success\n".into(),
    );
    assert_ne!(notifier_permissions(&with_status).unwrap(), documented);
}

#[test]
fn the_release_bot_environment_rules_are_documented_as_the_workflows_assume() {
    let branches = RELEASE_BOT_BRANCHES.map(|b| format!("branch `{b}`"));
    let tags = RELEASE_BOT_TAGS.map(|t| format!("tag `{t}`"));
    let rules = format!(
        "| Deployment branches and tags | Selected branches and tags: {} |",
        [branches.as_slice(), tags.as_slice()].concat().join(", ")
    );
    let doc = read("docs/release-process.md");
    assert!(
        doc.lines().any(|l| l.starts_with(&rules)),
        "docs/release-process.md has no row starting {rules:?}"
    );
}

#[test]
fn base_images_are_pinned_where_dependabot_updates_them() {
    let dockerfile = read("service/Dockerfile");
    assert_eq!(check_dockerfile(&dockerfile), Vec::<String>::new());
    let dependabot = yaml(".github/dependabot.yml");
    let docker: Vec<&str> = dependabot["updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["package-ecosystem"] == "docker")
        .filter_map(|u| u["directory"].as_str())
        .collect();
    assert_eq!(docker, ["/service"], "Dependabot reads service/Dockerfile");
}
