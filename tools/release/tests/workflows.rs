//! The GitHub configuration: repository rules (tools/release/src/workflow_policy.rs) over the real
//! .github and over broken fixtures, and scripts/lint-workflows (JSON schemas + zizmor) failing on
//! broken fixtures, so neither check can pass vacuously.

use release_tools::workflow_policy::{check_github_dir, check_pins, check_workflow};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const CHECKOUT: &str = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0";

/// A minimal workflow that satisfies every rule; fixtures break one thing each.
fn good_workflow() -> String {
    format!(
        "name: good
on:
  pull_request:
permissions: {{}}
concurrency:
  group: good-${{{{ github.ref }}}}
  cancel-in-progress: true
jobs:
  test:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - run: echo ok
"
    )
}

const PUBLISH: &str = "name: publish
on:
  push:
    branches: [main]
    paths:
      - service/**
permissions: {}
concurrency:
  group: publish
jobs:
  image:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      packages: write
    steps:
      - run: echo build
";

#[test]
fn the_real_github_configuration_follows_the_rules() {
    let violations = check_github_dir(&repo_root().join(".github")).unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_good_fixture_passes_so_failures_below_are_the_breakage() {
    assert_eq!(
        check_workflow(&good_workflow()).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(check_workflow(PUBLISH).unwrap(), Vec::<String>::new());
}

#[test]
fn unpinned_or_unversioned_actions_are_refused() {
    for (uses, reason) in [
        ("actions/checkout@v5", "not pinned to a full commit SHA"),
        (
            "actions/checkout@08c6903",
            "not pinned to a full commit SHA",
        ),
        (
            "actions/checkout@main # v5",
            "not pinned to a full commit SHA",
        ),
        (
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",
            "version comment",
        ),
        (
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # main",
            "version comment",
        ),
    ] {
        let problems = check_pins(&good_workflow().replace(CHECKOUT, uses));
        assert!(
            problems.iter().any(|p| p.contains(reason)),
            "{uses}: {problems:?}"
        );
    }
    assert!(check_pins("steps:\n  - uses: ./.github/actions/setup-release-tools\n").is_empty());
}

#[test]
fn permissions_must_default_to_none_and_be_granted_per_job() {
    let write_all = good_workflow().replace("permissions: {}", "permissions: write-all");
    assert!(check_workflow(&write_all)
        .unwrap()
        .iter()
        .any(|p| p.contains("top-level `permissions`")));
    let missing = good_workflow().replace("permissions: {}\n", "");
    assert!(check_workflow(&missing)
        .unwrap()
        .iter()
        .any(|p| p.contains("top-level `permissions`")));
    let job_without = good_workflow().replace("    permissions:\n      contents: read\n", "");
    assert!(check_workflow(&job_without)
        .unwrap()
        .iter()
        .any(|p| p.contains("job `test` has no `permissions`")));
}

#[test]
fn every_workflow_needs_a_concurrency_group() {
    let text = good_workflow().replace(
        "concurrency:\n  group: good-${{ github.ref }}\n  cancel-in-progress: true\n",
        "",
    );
    assert!(check_workflow(&text)
        .unwrap()
        .iter()
        .any(|p| p.contains("concurrency")));
}

#[test]
fn publishing_workflows_must_not_trigger_on_bump_commits() {
    for (paths, reason) in [
        ("      - service/**\n      - deploy/**\n", "build loop"),
        ("      - \"**\"\n", "build loop"),
        ("      - \"**/kustomization.yaml\"\n", "build loop"),
    ] {
        let text = PUBLISH.replace("      - service/**\n", paths);
        assert!(
            check_workflow(&text)
                .unwrap()
                .iter()
                .any(|p| p.contains(reason)),
            "{paths}"
        );
    }
    let negated = PUBLISH.replace(
        "      - service/**\n",
        "      - \"**\"\n      - \"!deploy/**\"\n",
    );
    assert_eq!(
        check_workflow(&negated).unwrap(),
        Vec::<String>::new(),
        "a negated deploy/** excludes bumps"
    );
    let unfiltered = PUBLISH.replace("    paths:\n      - service/**\n", "");
    assert!(check_workflow(&unfiltered)
        .unwrap()
        .iter()
        .any(|p| p.contains("without a `paths` filter")));
    let every_push = PUBLISH.replace(
        "on:\n  push:\n    branches: [main]\n    paths:\n      - service/**\n",
        "on: push\n",
    );
    assert!(check_workflow(&every_push)
        .unwrap()
        .iter()
        .any(|p| p.contains("every push")));
}

/// A copy of the real .github in a temporary directory, to break one file at a time.
fn github_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join(".github"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

#[test]
fn codeowners_must_route_prod_and_argocd_to_release_managers() {
    let dir = github_copy();
    let codeowners = dir.path().join(".github/CODEOWNERS");
    let real = fs::read_to_string(&codeowners).unwrap();
    fs::write(
        &codeowners,
        real.replace(
            "/argocd/                @greeter-gitops/release-managers\n",
            "",
        ),
    )
    .unwrap();
    let violations = check_github_dir(&dir.path().join(".github")).unwrap();
    assert_eq!(
        violations,
        ["CODEOWNERS: argocd/apps/greeter.yaml is not owned by @greeter-gitops/release-managers"]
    );
    // A catch-all after the specific rules takes ownership back (last match wins).
    fs::write(
        &codeowners,
        format!("{real}*  @greeter-gitops/maintainers\n"),
    )
    .unwrap();
    assert_eq!(
        check_github_dir(&dir.path().join(".github")).unwrap().len(),
        2
    );
}

fn lint(github: &Path) -> std::process::Output {
    Command::new(repo_root().join("scripts/lint-workflows"))
        .arg(github)
        .output()
        .expect(
            "bash runs scripts/lint-workflows (run scripts/setup for check-jsonschema and zizmor)",
        )
}

#[test]
fn lint_workflows_fails_on_schema_errors_and_security_findings() {
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join("workflows");
    fs::create_dir_all(&workflows).unwrap();
    let file = workflows.join("fixture.yaml");

    fs::write(&file, good_workflow()).unwrap();
    let good = lint(dir.path());
    assert!(
        good.status.success(),
        "the good fixture lints clean: {}",
        String::from_utf8_lossy(&good.stderr)
    );

    // Schema: a misspelt job key.
    fs::write(&file, good_workflow().replace("runs-on:", "runs_on:")).unwrap();
    let schema = lint(dir.path());
    assert!(!schema.status.success());
    assert!(
        String::from_utf8_lossy(&schema.stdout).contains("runs-on"),
        "{}",
        String::from_utf8_lossy(&schema.stdout)
    );

    // zizmor: a PR title interpolated into a shell script (template injection).
    let injection = good_workflow().replace(
        "run: echo ok",
        "run: echo \"${{ github.event.pull_request.title }}\"",
    );
    fs::write(&file, injection).unwrap();
    let audit = lint(dir.path());
    assert!(!audit.status.success());
    assert!(
        String::from_utf8_lossy(&audit.stdout).contains("template-injection"),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

fn workflow(name: &str) -> serde_json::Value {
    let text = fs::read_to_string(repo_root().join(".github/workflows").join(name)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// Every step of every job of a workflow, with the job it belongs to.
fn steps(workflow: &serde_json::Value) -> Vec<(&serde_json::Value, &serde_json::Value)> {
    let jobs = workflow["jobs"].as_object().unwrap();
    jobs.values()
        .flat_map(|job| {
            job["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |step| (job, step))
        })
        .collect()
}

#[test]
fn bump_and_promotion_prs_use_one_fixed_branch_per_environment_and_prod_never_auto_merges() {
    let release = workflow("release.yaml");
    let promote = workflow("promote.yaml");
    let pr_steps = |workflow| -> Vec<&serde_json::Value> {
        steps(workflow)
            .into_iter()
            .map(|(_, step)| step)
            .filter(|step| {
                step["uses"]
                    .as_str()
                    .is_some_and(|uses| uses.starts_with("peter-evans/create-pull-request@"))
            })
            .collect()
    };
    let bump = pr_steps(&release);
    assert_eq!(bump.len(), 1);
    assert_eq!(bump[0]["with"]["branch"], "bump/dev");
    assert_eq!(
        bump[0]["with"]["add-paths"],
        "deploy/overlays/dev/kustomization.yaml"
    );
    let promotion = pr_steps(&promote);
    assert_eq!(promotion.len(), 1);
    assert_eq!(
        promotion[0]["with"]["branch"],
        "promote/${{ steps.target.outputs.to }}"
    );

    // The only auto-merge in promote.yaml is conditioned on the staging target.
    let merges: Vec<_> = steps(&promote)
        .into_iter()
        .filter(|(_, step)| {
            step["run"]
                .as_str()
                .is_some_and(|run| run.contains("gh pr merge"))
        })
        .collect();
    assert_eq!(merges.len(), 1);
    assert!(merges[0].1["if"]
        .as_str()
        .unwrap()
        .contains("steps.target.outputs.to == 'staging'"));

    // Jobs that mint the release bot's token read its key from the main-only environment.
    for workflow in [&release, &promote] {
        for (job, step) in steps(workflow) {
            if step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("actions/create-github-app-token@"))
            {
                assert_eq!(job["environment"], "release-bot");
                assert_eq!(step["with"]["permission-contents"], "write");
            }
        }
    }
}
