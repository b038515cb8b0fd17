//! The release scripts against a copy of this repository's real deploy/ tree (not a fixture), so a
//! layout change in the overlays that breaks minimal bumps or promotions fails here first.

mod common;
use common::{aborted_image, diff_changes, digest, dispatch_fixture, PayloadFile, Repo, IMAGE};
use release_tools::deny_list::DENY_LIST;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A temporary repository holding the work tree's deploy/, argocd/ and observability/.
fn real_tree() -> Repo {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("deploy/overlays/prod/kustomization.yaml")
            .is_file(),
        "the real deploy/ tree is missing"
    );
    let repo = Repo::empty();
    for dir in ["deploy", "argocd", "observability"] {
        if root.join(dir).is_dir() {
            copy_tree(&root.join(dir), &repo.file(dir));
        }
    }
    repo.commit("the real tree");
    repo
}

#[test]
fn real_overlays_bump_promote_and_diff_minimally() {
    let repo = real_tree();
    let release = format!("{IMAGE}:sha-abcdef1@{}", digest('e'));

    repo.run("bump-image", &["dev", &release]).ok();
    assert_eq!(
        repo.changed_files(),
        ["deploy/overlays/dev/kustomization.yaml"]
    );
    let changed = repo.changed_lines();
    assert!(
        !changed.is_empty()
            && changed.len() <= 4
            && changed
                .iter()
                .all(|l| l.contains("newTag: ") || l.contains("digest: ")),
        "only the images entry changes: {changed:?}"
    );
    assert_eq!(repo.rendered_image("dev"), release);
    let state = repo.state();
    repo.run("bump-image", &["dev", &release]).ok();
    assert_eq!(repo.state(), state, "second bump is a no-op");
    repo.commit("bump dev");

    repo.run("promote", &["dev", "staging"]).ok();
    assert_eq!(
        repo.changed_files(),
        ["deploy/overlays/staging/kustomization.yaml"]
    );
    assert_eq!(repo.rendered_image("staging"), release);
    repo.commit("promote to staging");

    repo.run("promote", &["staging", "prod"]).ok();
    assert_eq!(
        repo.changed_files(),
        ["deploy/overlays/prod/kustomization.yaml"]
    );
    assert_eq!(repo.rendered_image("prod"), release);
    repo.run("promote", &["--check", "HEAD"]).ok();

    let report = repo.run("render-diff", &["HEAD"]).ok().stdout;
    let sections: Vec<&str> = report.lines().filter(|l| l.starts_with("#### ")).collect();
    // The Rollout and the synthetic-traffic AnalysisTemplate (its Job runs the same image): the
    // image line of each, removed and added.
    assert_eq!(sections, ["#### prod: 2 object(s) changed"], "{report}");
    let changes: Vec<&str> = diff_changes(&report);
    assert_eq!(changes.len(), 4, "{report}");
    assert!(
        changes.iter().all(|l| l
            .trim_start_matches(['+', '-'])
            .trim_start()
            .starts_with("image: ")),
        "{report}"
    );
}

#[test]
fn real_prod_refuses_a_digest_staging_does_not_run() {
    let repo = real_tree();
    repo.run("bump-image", &["prod", &format!("{IMAGE}@{}", digest('f'))])
        .ok();
    repo.run("promote", &["--check", "HEAD"])
        .refused("prod never ran it");
}

/// The revert of an aborted prod canary on the real tree, timed: the tool side of "a revert PR
/// opened within a minute of the abort notification" is `scripts/revert` (revert.yaml opens the PR
/// with its summary as the body). The appended deny-list entry passes the repository's yamllint.
#[test]
fn real_tree_reverts_an_aborted_canary_well_within_a_minute() {
    let repo = real_tree();
    let before = repo.rendered_image("prod");
    repo.run("bump-image", &["prod", &aborted_image()]).ok();
    repo.commit("prod runs the release whose canary is aborted");

    let payload = PayloadFile::new(&dispatch_fixture()["client_payload"]);
    let started = Instant::now();
    repo.run("revert", &[&payload.arg()]).ok();
    let elapsed = started.elapsed();
    eprintln!("revert: scripts/revert took {:.2} s", elapsed.as_secs_f64());
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(repo.rendered_image("prod"), before);
    let diff = repo.run("render-diff", &["HEAD"]).ok().stdout;
    assert!(diff.contains("#### prod: 2 object(s) changed"), "{diff}");
    repo.run("promote", &["--check", "HEAD"]).ok();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lint = Command::new(root.join(".venv/bin/yamllint"))
        .arg("--strict")
        .arg("-c")
        .arg(root.join(".yamllint.yaml"))
        .arg(repo.file(DENY_LIST))
        .output()
        .expect(".venv/bin/yamllint (run scripts/setup)");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
}
