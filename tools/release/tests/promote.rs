//! scripts/promote (copy a digest one step) and `promote --check` (the prod guard CI runs).

mod common;
use common::{digest, Repo, IMAGE};

/// Promotes dev to staging and returns the PR body it writes.
fn promote_summary(repo: &Repo) -> String {
    let summary = repo.file("summary.md");
    repo.run(
        "promote",
        &[
            "dev",
            "staging",
            "--summary-file",
            summary.to_str().unwrap(),
        ],
    )
    .ok();
    std::fs::read_to_string(summary).unwrap()
}

/// Pins `env` to the image by digest alone, as bump-image does for a release.
fn pin(repo: &Repo, env: &str, digest_hex: char) {
    repo.run(
        "bump-image",
        &[env, &format!("{IMAGE}@{}", digest(digest_hex))],
    )
    .ok();
}

#[test]
fn copies_the_exact_image_one_step_with_a_minimal_diff() {
    let repo = Repo::new();
    let dev = format!("{IMAGE}:sha-2222222@{}", digest('b'));
    repo.run("bump-image", &["dev", &dev]).ok();
    repo.commit("bump dev");

    repo.run("promote", &["dev", "staging"]).ok();
    assert_eq!(repo.rendered_image("staging"), dev);
    assert_eq!(
        repo.changed_files(),
        ["deploy/overlays/staging/kustomization.yaml"]
    );
    assert_eq!(
        repo.changed_lines(),
        [
            "-    newTag: sha-1111111",
            &format!("-    digest: {}", digest('a')),
            "+    newTag: sha-2222222",
            &format!("+    digest: {}", digest('b')),
        ]
    );
    repo.commit("promote to staging");
    repo.run("promote", &["staging", "prod"]).ok();
    assert_eq!(repo.rendered_image("prod"), dev);
    let again = repo.run("promote", &["staging", "prod"]).ok();
    assert!(again.stdout.contains("prod: already"), "{}", again.stdout);
}

#[test]
fn refuses_tags_without_digests_and_skipped_or_backward_steps() {
    let repo = Repo::new();
    repo.run("promote", &["dev", "staging"])
        .refused("without a digest");
    repo.run("promote", &["dev", "prod"])
        .refused("not a promotion step");
    repo.run("promote", &["prod", "staging"])
        .refused("not a promotion step");
    repo.run("promote", &["staging", "staging"])
        .refused("not a promotion step");
    assert_eq!(repo.state(), "");
    assert_eq!(repo.run("promote", &["staging"]).code, 2);
}

#[test]
fn summary_shows_old_and_new_digests_and_the_commit_range() {
    let repo = Repo::new();
    repo.write("service/src/main.rs", "fn main() {}\n");
    let old = repo.commit("service: first version");
    repo.write("service/src/main.rs", "fn main() { println!(\"hi\"); }\n");
    let new = repo.commit("service: say hi");
    repo.write("docs/notes.md", "unrelated\n");
    repo.commit("docs: unrelated change");
    repo.run(
        "bump-image",
        &["staging", &format!("{IMAGE}:sha-{old}@{}", digest('a'))],
    )
    .ok();
    repo.run(
        "bump-image",
        &["dev", &format!("{IMAGE}:sha-{new}@{}", digest('b'))],
    )
    .ok();
    repo.commit("pins");

    let body = promote_summary(&repo);
    assert!(
        body.contains(&format!(
            "| staging before | `{IMAGE}:sha-{old}@{}` | `{}` |",
            digest('a'),
            digest('a')
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "`{IMAGE}:sha-{new}@{}` | `{}` |",
            digest('b'),
            digest('b')
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!("Commit range: `{old}..{new}`")),
        "{body}"
    );
    assert!(
        body.contains("1 commit(s) changing the service") && body.contains("service: say hi"),
        "{body}"
    );
    assert!(!body.contains("unrelated"), "{body}");

    // Semver-tagged images resolve through the git tag the release workflow built them from.
    repo.git(&["tag", "v1.1.0", &new]);
    repo.commit("promoted");
    repo.run(
        "bump-image",
        &["dev", &format!("{IMAGE}:1.1.0@{}", digest('c'))],
    )
    .ok();
    repo.commit("dev on a release");
    let body = promote_summary(&repo);
    assert!(
        body.contains(&format!("Commit range: `{new}..v1.1.0`")),
        "{body}"
    );
    assert!(body.contains("0 commit(s) changing the service"), "{body}");
}

#[test]
fn check_accepts_the_digest_staging_runs_and_refuses_others() {
    let repo = Repo::new();
    pin(&repo, "staging", 'b');
    repo.commit("staging runs b");

    // A PR that touches prod without changing its digest passes.
    repo.run("promote", &["--check", "HEAD"]).ok();

    // A digest staging does not run is refused.
    pin(&repo, "prod", 'c');
    repo.run("promote", &["--check", "HEAD"])
        .refused("staging runs sha256:bbbb");

    // Changing staging in the same PR does not help: staging must run it already (at the base).
    pin(&repo, "staging", 'c');
    repo.run("promote", &["--check", "HEAD"])
        .refused("prod never ran it");
    repo.git(&["checkout", "-q", "--", "deploy/overlays/staging"]);

    // The digest staging runs at the base passes.
    pin(&repo, "prod", 'b');
    let run = repo.run("promote", &["--check", "HEAD"]).ok();
    assert!(
        run.stdout.contains("which staging runs at HEAD"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_accepts_a_rollback_to_a_digest_prod_ran_before() {
    let repo = Repo::new();
    pin(&repo, "staging", 'b');
    repo.commit("staging runs b");
    repo.run("promote", &["staging", "prod"]).ok();
    repo.commit("prod runs b");
    pin(&repo, "staging", 'c');
    repo.commit("staging runs c");

    // Revert prod to `a`, the digest of the initial commit.
    pin(&repo, "prod", 'a');
    let run = repo.run("promote", &["--check", "HEAD"]).ok();
    assert!(run.stdout.contains("rolls back"), "{}", run.stdout);

    // Prod never ran `d`.
    pin(&repo, "prod", 'd');
    repo.run("promote", &["--check", "HEAD"])
        .refused("prod never ran it");
}

#[test]
fn check_refuses_a_prod_tag_without_digest_and_an_unknown_base() {
    let repo = Repo::new();
    let text = repo.read("deploy/overlays/prod/kustomization.yaml");
    repo.write(
        "deploy/overlays/prod/kustomization.yaml",
        &text.replace(
            &format!("    digest: {}", digest('a')),
            "    newTag: sha-2222222",
        ),
    );
    repo.run("promote", &["--check", "HEAD"])
        .refused("prod only runs digests");
    repo.run("promote", &["--check", "no-such-branch"])
        .refused("is not a commit");
}
