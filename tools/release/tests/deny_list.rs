//! The deny-list on real git repositories: bump-image, promote and CI's guard (`promote --check`)
//! refuse a denied digest, naming it and the AnalysisRun that failed it.

mod common;
use common::{digest, Repo, IMAGE};
use release_tools::deny_list::DENY_LIST;

const RUN: &str = "greeter-64b9c7bd6-7";

/// A deny-list entry for digest `hex` that failed in `env`.
fn entry(hex: char, env: &str) -> String {
    format!(
        "  - digest: {}\n    tag: \"sha-2222222\"\n    environment: {env}\n    analysisRun: {RUN}\n    at: \"2026-12-01T09:15:30Z\"\n    reason: >-\n      Metric \"success-rate\" assessed Failed\n",
        digest(hex)
    )
}

fn deny(repo: &Repo, entries: &[String]) {
    repo.write(
        DENY_LIST,
        &format!("# denied\ndenied:\n{}", entries.concat()),
    );
    repo.commit("deny");
}

/// Rewrites an overlay's digest by hand (bump-image would refuse a denied one).
fn pin_by_hand(repo: &Repo, env: &str, from: char, to: char) {
    let path = format!("deploy/overlays/{env}/kustomization.yaml");
    let text = repo.read(&path);
    assert!(text.contains(&digest(from)));
    repo.write(&path, &text.replace(&digest(from), &digest(to)));
}

#[test]
fn bump_image_refuses_a_denied_digest_in_every_environment() {
    let repo = Repo::new();
    deny(&repo, &[entry('b', "staging")]);
    for env in ["dev", "staging", "prod"] {
        let run = repo
            .run(
                "bump-image",
                &[env, &format!("{IMAGE}:sha-2222222@{}", digest('b'))],
            )
            .refused(&format!(
                "{} is denied: its canary failed in staging",
                digest('b')
            ));
        assert!(run.stderr.contains(RUN), "{}", run.stderr);
        assert!(run.stderr.contains(DENY_LIST), "{}", run.stderr);
        assert_eq!(repo.state(), "");
    }
    repo.run("bump-image", &["dev", &format!("{IMAGE}@{}", digest('c'))])
        .ok();
}

#[test]
fn promote_refuses_to_carry_a_denied_digest_on() {
    let repo = Repo::new();
    // Staging ran `b` before its canary failed in prod; it stays there, but goes no further.
    pin_by_hand(&repo, "staging", 'a', 'b');
    repo.commit("staging runs b");
    deny(&repo, &[entry('b', "prod")]);
    repo.run("promote", &["staging", "prod"]).refused(&format!(
        "{} is denied: its canary failed in prod",
        digest('b')
    ));
    assert_eq!(repo.state(), "");
    // Staging keeping it is fine for CI: it passed there.
    repo.run("promote", &["--check", "HEAD"]).ok();
}

#[test]
fn ci_refuses_any_environment_receiving_a_denied_digest_even_a_rollback() {
    let repo = Repo::new();
    pin_by_hand(&repo, "staging", 'a', 'b');
    repo.commit("staging runs b");
    repo.run("promote", &["staging", "prod"]).ok();
    repo.commit("prod runs b");
    pin_by_hand(&repo, "staging", 'b', 'c');
    pin_by_hand(&repo, "prod", 'b', 'a');
    repo.commit("staging runs c, prod back on a");
    deny(&repo, &[entry('b', "prod")]);

    // Prod ran `b` before, which the prod guard alone accepts as a rollback.
    pin_by_hand(&repo, "prod", 'a', 'b');
    let run = repo.run("promote", &["--check", "HEAD"]).refused(&format!(
        "prod would run {IMAGE}:sha-1111111@{}",
        digest('b')
    ));
    assert!(!run.stderr.contains("prod never ran it"), "{}", run.stderr);
    assert!(run.stderr.contains(RUN), "{}", run.stderr);
    repo.git(&["checkout", "-q", "--", "deploy/overlays/prod"]);

    // Dev receiving it by hand.
    let dev = repo.read("deploy/overlays/dev/kustomization.yaml").replace(
        "    newTag: sha-1111111",
        &format!("    digest: {}", digest('b')),
    );
    repo.write("deploy/overlays/dev/kustomization.yaml", &dev);
    repo.run("promote", &["--check", "HEAD"])
        .refused(&format!("dev would run {IMAGE}@{}", digest('b')));
}

#[test]
fn ci_refuses_denying_a_digest_without_reverting_the_environment_it_failed_in() {
    let repo = Repo::new();
    pin_by_hand(&repo, "prod", 'a', 'b');
    repo.commit("prod runs b");
    repo.write(
        DENY_LIST,
        &format!("# denied\ndenied:\n{}", entry('b', "prod")),
    );
    repo.run("promote", &["--check", "HEAD"])
        .refused("prod still runs");
    pin_by_hand(&repo, "prod", 'b', 'a');
    repo.run("promote", &["--check", "HEAD"]).ok();
}

#[test]
fn a_malformed_deny_list_is_an_error_not_an_empty_one() {
    let repo = Repo::new();
    repo.write(DENY_LIST, "denied:\n  - digest: sha256:abc\n");
    repo.run("bump-image", &["dev", &format!("{IMAGE}:sha-2222222")])
        .refused(DENY_LIST);
    repo.run("promote", &["--check", "HEAD"]).refused(DENY_LIST);
}
