//! scripts/render-diff: per-environment diffs of rendered objects, without ordering noise, capped.

mod common;
use common::{diff_changes, Repo, IMAGE};

#[test]
fn no_change_says_so() {
    let repo = Repo::new();
    let run = repo.run("render-diff", &["HEAD"]).ok();
    assert!(
        run.stdout
            .contains("No rendered object changes in any root."),
        "{}",
        run.stdout
    );
}

#[test]
fn image_bump_shows_only_the_rollout_of_that_environment() {
    let repo = Repo::new();
    repo.run("bump-image", &["dev", &format!("{IMAGE}:sha-2222222")])
        .ok();
    let state = repo.state();
    let report = repo.run("render-diff", &["HEAD"]).ok().stdout;
    assert!(report.contains("Unchanged: staging, prod."), "{report}");
    assert!(report.contains("#### dev: 1 object(s) changed"), "{report}");
    assert!(
        report.contains(
            "--- a/dev/Rollout/greeter-dev/greeter\n+++ b/dev/Rollout/greeter-dev/greeter\n"
        ),
        "{report}"
    );
    let changes: Vec<&str> = diff_changes(&report);
    assert_eq!(
        changes,
        [
            "-      - image: ghcr.io/greeter-gitops/greeter:sha-1111111",
            "+      - image: ghcr.io/greeter-gitops/greeter:sha-2222222"
        ],
        "{report}"
    );
    assert_eq!(
        repo.state(),
        state,
        "render-diff must not touch the work tree"
    );
    assert!(!repo.file(".git/worktrees").exists());
}

#[test]
fn reordering_resources_and_keys_is_not_a_change() {
    let repo = Repo::new();
    repo.write(
        "deploy/base/kustomization.yaml",
        "resources:\n  - service.yaml\n  - rollout.yaml\n",
    );
    let service = repo.read("deploy/base/service.yaml");
    let reordered = service.replace(
        "apiVersion: v1\nkind: Service\n",
        "kind: Service\napiVersion: v1\n",
    );
    assert_ne!(service, reordered);
    repo.write("deploy/base/service.yaml", &reordered);
    let run = repo.run("render-diff", &["HEAD"]).ok();
    assert!(
        run.stdout.contains("No rendered object changes"),
        "{}",
        run.stdout
    );
}

#[test]
fn generated_config_map_changes_are_changes_not_replacements() {
    let repo = Repo::new();
    let prod = repo.read("deploy/overlays/prod/kustomization.yaml");
    repo.write(
        "deploy/overlays/prod/kustomization.yaml",
        &prod.replace("APP_ENV=prod", "APP_ENV=production"),
    );
    let report = repo.run("render-diff", &["HEAD"]).ok().stdout;
    assert!(
        report.contains("--- a/prod/ConfigMap/greeter-prod/greeter-config\n"),
        "{report}"
    );
    assert!(
        report.contains("-  APP_ENV: prod\n+  APP_ENV: production\n"),
        "{report}"
    );
    assert!(
        report.contains("#### prod: 1 object(s) changed"),
        "{report}"
    );
}

#[test]
fn added_and_removed_overlays_show_every_object() {
    let repo = Repo::new();
    std::fs::remove_dir_all(repo.file("deploy/overlays/staging")).unwrap();
    repo.write(
        "deploy/overlays/qa/kustomization.yaml",
        "namespace: greeter-qa\nresources:\n  - ../../base\n",
    );
    let report = repo.run("render-diff", &["HEAD"]).ok().stdout;
    assert!(
        report.contains("#### staging: 3 object(s) changed"),
        "{report}"
    );
    assert!(report.contains("#### qa: 2 object(s) changed"), "{report}");
    assert!(
        report.contains("+++ b/qa/Rollout/greeter-qa/greeter"),
        "{report}"
    );
    assert!(report.contains("-kind: ConfigMap"), "{report}");
    let sections: Vec<&str> = report.lines().filter(|l| l.starts_with("#### ")).collect();
    assert_eq!(sections.len(), 2, "{report}");
    assert!(
        report.find("#### staging").unwrap() < report.find("#### qa").unwrap(),
        "known environments first"
    );
}

#[test]
fn output_is_capped_and_says_what_was_cut() {
    let repo = Repo::new();
    // Every overlay gains a large ConfigMap: far more diff than a comment can hold.
    for env in ["dev", "staging", "prod"] {
        let path = format!("deploy/overlays/{env}/kustomization.yaml");
        let literals: String = (0..1500)
            .map(|i| format!("      - KEY_{i:04}=value-{i}-{env}\n"))
            .collect();
        let text = repo.read(&path).replace(
            "images:\n",
            &format!("  - name: bulk\n    literals:\n{literals}images:\n"),
        );
        repo.write(&path, &text);
    }
    let report = repo.run("render-diff", &["HEAD"]).ok().stdout;
    assert!(
        report.chars().count() <= 65_000,
        "{} characters",
        report.chars().count()
    );
    assert!(
        report.contains("**Output capped at 65000 characters**"),
        "{}",
        &report[report.len() - 2000..]
    );
    assert!(
        report.contains("- prod/ConfigMap/greeter-prod/bulk\n"),
        "the cut objects are listed"
    );
    assert!(
        report.contains("diff cut after"),
        "the first object that does not fit is cut at a line"
    );
    let opened = report.lines().filter(|l| *l == "```diff").count();
    assert_eq!(
        report.lines().filter(|l| *l == "```").count(),
        opened,
        "every fence is closed"
    );

    let small = repo
        .run("render-diff", &["HEAD", "--max-chars", "4000"])
        .ok()
        .stdout;
    assert!(
        small.chars().count() <= 4000,
        "{} characters",
        small.chars().count()
    );
    assert!(
        small.contains("**Output capped at 4000 characters**"),
        "{small}"
    );
    assert_eq!(
        repo.run("render-diff", &["HEAD", "--max-chars", "100"])
            .code,
        1
    );
}

#[test]
fn argocd_and_observability_roots_are_rendered_after_the_overlays() {
    let repo = Repo::new();
    repo.write("argocd/kustomization.yaml", "resources:\n  - app.yaml\n");
    repo.write("argocd/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: argocd\ndata:\n  revision: a\n");
    repo.write(
        "observability/kustomization.yaml",
        "namespace: monitoring\nresources:\n  - rules.yaml\n",
    );
    repo.write(
        "observability/rules.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rules\ndata:\n  rule: up\n",
    );
    repo.commit("argocd and observability roots");
    repo.write(
        "argocd/app.yaml",
        &repo
            .read("argocd/app.yaml")
            .replace("revision: a", "revision: b"),
    );
    repo.write(
        "observability/rules.yaml",
        &repo
            .read("observability/rules.yaml")
            .replace("rule: up", "rule: down"),
    );
    repo.run(
        "bump-image",
        &["prod", &format!("{IMAGE}@sha256:{}", "b".repeat(64))],
    )
    .ok();
    let report = repo.run("render-diff", &["HEAD"]).ok().stdout;
    let sections: Vec<&str> = report.lines().filter(|l| l.starts_with("#### ")).collect();
    assert_eq!(
        sections,
        [
            "#### prod: 1 object(s) changed",
            "#### argocd: 1 object(s) changed",
            "#### observability: 1 object(s) changed"
        ],
        "{report}"
    );
    assert!(
        report.contains("-  revision: a\n+  revision: b\n"),
        "{report}"
    );
    assert!(
        report.contains("+++ b/observability/ConfigMap/monitoring/rules"),
        "{report}"
    );
}

#[test]
fn unknown_base_and_broken_overlays_fail() {
    let repo = Repo::new();
    repo.run("render-diff", &["no-such-ref"])
        .refused("is not a commit");
    repo.write(
        "deploy/overlays/dev/kustomization.yaml",
        "resources:\n  - missing.yaml\n",
    );
    repo.run("render-diff", &["HEAD"])
        .refused("kubectl kustomize");
    assert_eq!(repo.run("render-diff", &[]).code, 2);
}
