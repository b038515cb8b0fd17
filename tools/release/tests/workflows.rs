//! The workflows: repository rules (tools/release/src/workflow_policy.rs) over the real .github and
//! over broken fixtures, scripts/lint-workflows (JSON schemas + zizmor) failing on broken fixtures,
//! so neither check can pass vacuously, and what the workflows promise each other and Argo CD.

mod common;

use common::Repo;
use release_tools::abort_payload::EVENT_TYPE;
use release_tools::deny_list::DENY_LIST;
use release_tools::workflow_policy::{
    check_github_dir, check_pins, check_workflow, concurrency_group, events,
    RELEASE_BOT_ENVIRONMENT,
};
use serde_json::Value;
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
        (
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5",
            "exact `# vX.Y.Z`",
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
fn a_scheduled_run_shares_its_concurrency_group_with_no_other_event() {
    let shared = good_workflow().replace(
        "on:\n  pull_request:\n",
        "on:\n  push:\n  schedule:\n    - cron: \"17 5 * * *\"\n",
    );
    let problems = check_workflow(&shared).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`push` runs share the scheduled run's concurrency group")),
        "{problems:?}"
    );
    let own = shared.replace(
        "group: good-${{ github.ref }}",
        "group: good-${{ github.event_name }}-${{ github.ref }}",
    );
    assert_eq!(check_workflow(&own).unwrap(), Vec::<String>::new());
}

#[test]
fn ci_cancels_superseded_pr_runs_only() {
    let ci = workflow("ci.yaml");
    let group = ci["concurrency"]["group"].as_str().unwrap();
    let run = |event, id| concurrency_group(group, event, id).unwrap();
    assert_eq!(run("pull_request", 1), run("pull_request", 2));
    assert_ne!(
        run("push", 1),
        run("push", 2),
        "every push to main is tested"
    );
    assert_ne!(run("schedule", 1), run("push", 2));
    assert_eq!(
        ci["concurrency"]["cancel-in-progress"],
        "${{ github.event_name == 'pull_request' }}"
    );
}

#[test]
fn the_release_bot_environment_is_reached_only_from_refs_it_admits() {
    let job = "    permissions:\n      contents: read\n";
    let with_environment = |on: &str| {
        good_workflow()
            .replace("on:\n  pull_request:\n", on)
            .replace(
                job,
                &format!("    environment: {RELEASE_BOT_ENVIRONMENT}\n{job}"),
            )
    };
    for (on, reason) in [
        (
            "on:\n  pull_request:\n",
            "`pull_request` runs reach environment `release-bot`",
        ),
        ("on:\n  push:\n", "pushes to any branch or tag reach"),
        (
            "on:\n  push:\n    branches: [main, develop]\n",
            "pushes to branches `develop` reach",
        ),
        (
            "on:\n  push:\n    tags: [\"release-*\"]\n",
            "pushes of tags `release-*` reach",
        ),
    ] {
        let problems = check_workflow(&with_environment(on)).unwrap();
        assert!(
            problems.iter().any(|p| p.contains(reason)),
            "{on}: {problems:?}"
        );
    }
    let admitted = "on:\n  push:\n    branches: [main]\n    tags: [\"v*\"]\n  workflow_dispatch:\n  repository_dispatch:\n  deployment_status:\n";
    assert_eq!(
        check_workflow(&with_environment(admitted)).unwrap(),
        Vec::<String>::new()
    );
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

fn lint(github: &Path) -> std::process::Output {
    Command::new(repo_root().join("scripts/lint-workflows"))
        .arg(github)
        .output()
        .expect(
            "bash runs scripts/lint-workflows (run scripts/setup for check-jsonschema and zizmor)",
        )
}

#[test]
fn lint_workflows_fails_on_schema_expression_and_security_findings() {
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

    // actionlint: a misspelt context property (valid YAML, valid schema, wrong expression).
    fs::write(&file, good_workflow().replace("github.ref", "github.rf")).unwrap();
    let expression = lint(dir.path());
    assert!(!expression.status.success());
    assert!(
        String::from_utf8_lossy(&expression.stdout).contains(r#"property "rf" is not defined"#),
        "{}",
        String::from_utf8_lossy(&expression.stdout)
    );

    // zizmor: an action pinned by a movable tag (actionlint accepts it).
    fs::write(
        &file,
        good_workflow().replace(CHECKOUT, "actions/checkout@v6"),
    )
    .unwrap();
    let audit = lint(dir.path());
    assert!(!audit.status.success());
    assert!(
        String::from_utf8_lossy(&audit.stdout).contains("unpinned-uses"),
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
    for workflow in [&release, &promote, &workflow("revert.yaml")] {
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

/// The branches of the bot PRs a workflow enables auto-merge on: a PR step, then `gh pr merge
/// --auto`; when the branch ends in an expression (`promote/${{ steps.target.outputs.to }}`), only
/// for the values the merge step's condition compares it with (`… == 'staging'`).
fn auto_merged_branches(workflow: &Value) -> Vec<String> {
    let mut branches = Vec::new();
    for job in workflow["jobs"].as_object().unwrap().values() {
        let steps = job["steps"].as_array().unwrap();
        let pr = steps.iter().find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("peter-evans/create-pull-request@"))
        });
        let merge = steps.iter().find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("gh pr merge --auto"))
        });
        let (Some(pr), Some(merge)) = (pr, merge) else {
            continue;
        };
        let branch = pr["with"]["branch"].as_str().unwrap();
        let Some((prefix, expression)) = branch
            .strip_suffix(" }}")
            .and_then(|b| b.split_once("${{ "))
        else {
            branches.push(branch.to_string());
            continue;
        };
        let condition = merge["if"].as_str().unwrap_or_default();
        branches.extend(
            condition
                .split(&format!("{expression} == '"))
                .skip(1)
                .filter_map(|rest| rest.split('\'').next())
                .map(|value| format!("{prefix}{value}")),
        );
    }
    branches
}

#[test]
fn auto_merged_bot_prs_are_kept_up_to_date_with_main() {
    let update = workflow("update-bot-prs.yaml");
    assert_eq!(
        events(&update),
        [(
            "push".to_string(),
            serde_json::json!({"branches": ["main"]})
        )]
    );
    let job = &update["jobs"]["update"];
    let mut kept: Vec<&str> = job["env"]["BRANCHES"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect();
    kept.sort_unstable();
    let mut auto_merged: Vec<String> = ["release.yaml", "promote.yaml", "revert.yaml"]
        .into_iter()
        .flat_map(|name| auto_merged_branches(&workflow(name)))
        .collect();
    auto_merged.sort();
    assert_eq!(
        auto_merged,
        [
            "bump/dev",
            "promote/staging",
            "revert/dev",
            "revert/staging"
        ]
    );
    assert_eq!(kept, auto_merged, "update-bot-prs.yaml BRANCHES");
    let steps = job["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["run"]
        .as_str()
        .is_some_and(|r| r.contains("/pulls/$number/update-branch"))));
}

/// What the required checks rows of docs/release-process.md name: `name` in backticks.
fn required_checks() -> Vec<String> {
    let doc = fs::read_to_string(repo_root().join("docs/release-process.md")).unwrap();
    let row = doc
        .lines()
        .find(|l| l.starts_with("| Required status checks |"))
        .expect("docs/release-process.md: a `Required status checks` row");
    row.split('|')
        .nth(2)
        .unwrap()
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_required_check_reports_on_pull_requests() {
    // Bot PRs are updated by pushes to their branch (update-bot-prs.yaml), so the event that gates
    // every merge is `pull_request`: each required check must run on it, not be skipped.
    let checks = required_checks();
    assert!(!checks.is_empty());
    let ci = workflow("ci.yaml");
    assert!(events(&ci).iter().any(|(event, _)| event == "pull_request"));
    for check in checks {
        let job = ci["jobs"]
            .as_object()
            .unwrap()
            .values()
            .find(|job| job["name"] == check.as_str())
            .unwrap_or_else(|| panic!("ci.yaml has no job named {check}"));
        let condition = job["if"].as_str().unwrap_or_default();
        let runs = condition.is_empty()
            || condition == "github.event_name == 'pull_request'"
            || condition
                .strip_prefix("github.event_name != '")
                .is_some_and(|other| other != "pull_request'");
        assert!(
            runs,
            "{check}: `if: {condition}` does not run on pull_request"
        );
    }
}

/// The `app-deployed` message as notifications-engine sends it as the GitHub deployment status'
/// description: the Go template rendered (the fields it uses), then `trunc(message, 140)`.
fn deployment_status_description(app: &str, revision: &str) -> String {
    let path = repo_root().join("argocd/config/argocd-notifications-cm.yaml");
    let cm: Value = serde_yaml_ng::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let template: Value =
        serde_yaml_ng::from_str(cm["data"]["template.app-deployed"].as_str().unwrap()).unwrap();
    let context: Value = serde_yaml_ng::from_str(cm["data"]["context"].as_str().unwrap()).unwrap();
    let message = template["message"]
        .as_str()
        .unwrap()
        .replace("{{.app.metadata.name}}", app)
        .replace(
            "{{.app.status.operationState.syncResult.revision}}",
            revision,
        )
        .replace(
            "{{.context.argocdUrl}}",
            context["argocdUrl"].as_str().unwrap(),
        );
    assert!(
        !message.contains("{{"),
        "app-deployed uses a template field this test does not render: {message}"
    );
    let runes: Vec<char> = message.chars().collect();
    if runes.len() > 140 {
        runes[..137].iter().collect::<String>() + "..."
    } else {
        message
    }
}

/// Runs promote.yaml's stale check (its `run`, as GitHub does: `bash -e`) in `repo` for a
/// deployment_status of dev with `description`: Ok(the `stale` output) or Err(stderr).
fn stale_check(repo: &Repo, description: &str) -> Result<String, String> {
    let promote = workflow("promote.yaml");
    let step = promote["jobs"]["promote"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "current")
        .expect("promote.yaml: the step with id `current`");
    let files = tempfile::tempdir().unwrap();
    let output = files.path().join("output");
    let result = Command::new("bash")
        .args(["-e", "-c", step["run"].as_str().unwrap()])
        .current_dir(repo.path())
        .env("DESCRIPTION", description)
        .env("FROM", "dev")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", files.path().join("summary"))
        .output()
        .unwrap();
    if !result.status.success() {
        return Err(String::from_utf8_lossy(&result.stderr).to_string());
    }
    let outputs = fs::read_to_string(output).unwrap();
    Ok(outputs.trim().strip_prefix("stale=").unwrap().to_string())
}

#[test]
fn promote_reads_the_revision_argocd_deployed_from_the_deployment_status() {
    let repo = Repo::new();
    let deployed = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    // The longest Application name leaves the least room before the 140-character cut.
    let app = fs::read_dir(repo_root().join("deploy/overlays"))
        .unwrap()
        .map(|e| format!("greeter-{}", e.unwrap().file_name().to_string_lossy()))
        .max_by_key(String::len)
        .unwrap();
    let description = deployment_status_description(&app, &deployed);
    assert_eq!(stale_check(&repo, &description).unwrap(), "false");
    // dev's overlay changed on main after the deploy: a newer deploy will promote.
    repo.write("deploy/overlays/dev/extra.yaml", "# newer\n");
    repo.commit("dev changed");
    assert_eq!(stale_check(&repo, &description).unwrap(), "true");
    // Without the revision the workflow fails loudly instead of promoting blind.
    let error = stale_check(&repo, &format!("{app} is healthy")).unwrap_err();
    assert!(error.contains("no 'deployed revision <sha>'"), "{error}");
}

/// Runs revert.yaml's `target` step (its `run`, as GitHub does: `bash -e`) for a payload naming
/// `environment`: Ok(its outputs) or Err(stderr).
fn revert_target(environment: &str) -> Result<String, String> {
    let revert = workflow("revert.yaml");
    let step = revert["jobs"]["revert"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "target")
        .expect("revert.yaml: the step with id `target`")
        .clone();
    let files = tempfile::tempdir().unwrap();
    let output = files.path().join("output");
    let result = Command::new("bash")
        .args(["-e", "-c", step["run"].as_str().unwrap()])
        .env("ENVIRONMENT", environment)
        .env("GITHUB_OUTPUT", &output)
        .output()
        .unwrap();
    if !result.status.success() {
        return Err(String::from_utf8_lossy(&result.stderr).to_string());
    }
    Ok(fs::read_to_string(output).unwrap().trim().to_string())
}

#[test]
fn revert_prs_pin_back_and_deny_in_one_pr_per_environment() {
    let revert = workflow("revert.yaml");
    assert_eq!(
        events(&revert),
        [(
            "repository_dispatch".to_string(),
            serde_json::json!({"types": [EVENT_TYPE]})
        )]
    );
    // One run at a time per environment, none cancelled: a second abort updates the same PR.
    assert_eq!(
        revert["concurrency"]["group"],
        "revert-${{ github.event.client_payload.environment }}"
    );
    assert_eq!(revert["concurrency"]["cancel-in-progress"], false);
    let job = &revert["jobs"]["revert"];
    assert_eq!(job["environment"], RELEASE_BOT_ENVIRONMENT);
    assert_eq!(job["permissions"], serde_json::json!({"contents": "read"}));
    assert_eq!(
        job["env"]["ENVIRONMENT"],
        "${{ github.event.client_payload.environment }}"
    );
    let steps = job["steps"].as_array().unwrap();
    let position = |found: &dyn Fn(&Value) -> bool| steps.iter().position(found).unwrap();
    let uses = |prefix: &'static str| {
        move |s: &Value| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix))
    };

    // The payload names a branch: only known environments get as far as the bot's token.
    let target = position(&|s| s["id"] == "target");
    assert!(target < position(&uses("actions/create-github-app-token@")));
    for env in ["dev", "staging", "prod"] {
        assert_eq!(revert_target(env).unwrap(), format!("env={env}"));
    }
    for bad in ["qa", "", "prod/../main", "prod\nenv=dev"] {
        let error = revert_target(bad).unwrap_err();
        assert!(error.contains("unknown environment"), "{bad:?}: {error}");
    }

    // The tool walks back the environment's pins: the checkout has the whole history of main.
    let checkout = &steps[position(&uses("actions/checkout@"))];
    assert_eq!(checkout["with"]["ref"], "main");
    assert_eq!(checkout["with"]["fetch-depth"], 0);
    // It reads the payload from the environment, never from an expression in the script.
    let tool = &steps[position(&|s: &Value| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.contains("scripts/revert \"$RUNNER_TEMP/payload.json\""))
    })];
    assert_eq!(
        tool["env"]["PAYLOAD"],
        "${{ toJSON(github.event.client_payload) }}"
    );
    assert!(!tool["run"].as_str().unwrap().contains("${{"));

    // The pin and the deny-list entry land in the same PR, on one branch per environment.
    let pr = &steps[position(&uses("peter-evans/create-pull-request@"))];
    assert_eq!(
        pr["with"]["branch"],
        "revert/${{ steps.target.outputs.env }}"
    );
    let paths: Vec<&str> = pr["with"]["add-paths"].as_str().unwrap().lines().collect();
    assert_eq!(
        paths,
        [
            "deploy/overlays/${{ steps.target.outputs.env }}/kustomization.yaml",
            DENY_LIST
        ]
    );
}
