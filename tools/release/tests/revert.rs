//! scripts/revert on real git repositories: the notification's payload (the fixture the template
//! renders) pins the environment back and denies the aborted digest, idempotently; an abort after a
//! change to the rest of the environment is refused, and bad payloads change nothing.

mod common;
use common::{aborted_image, digest, dispatch_fixture, PayloadFile, Repo, IMAGE};
use release_tools::deny_list::{Denial, DenyList, DENY_LIST};
use serde_json::{json, Value};

const PROD: &str = "deploy/overlays/prod/kustomization.yaml";
const EMPTY_DENY_LIST: &str = "# Digests whose canary failed.\ndenied:\n";

fn client_payload() -> Value {
    dispatch_fixture()["client_payload"].clone()
}

fn aborted_digest() -> String {
    aborted_image().split_once('@').unwrap().1.to_string()
}

/// Pins `env` as bump-image does, and commits.
fn pin(repo: &Repo, env: &str, image: &str) {
    repo.run("bump-image", &[env, image]).ok();
    repo.commit(&format!("{env} runs {image}"));
}

/// Prod ran `a` (the initial tree), then `b`, then the fixture's aborted image.
fn aborted_in_prod() -> Repo {
    abort_in_prod(Repo::new())
}

/// `repo`'s prod runs `b`, then the fixture's aborted image.
fn abort_in_prod(repo: Repo) -> Repo {
    repo.write(DENY_LIST, EMPTY_DENY_LIST);
    repo.commit("deny-list");
    pin(&repo, "prod", &format!("{IMAGE}@{}", digest('b')));
    pin(&repo, "prod", &aborted_image());
    repo
}

fn revert(repo: &Repo, payload: &Value) -> common::Run {
    let file = PayloadFile::new(payload);
    repo.run("revert", &[&file.arg()])
}

#[test]
fn pins_the_environment_back_and_denies_the_aborted_digest_in_the_same_change() {
    let repo = aborted_in_prod();
    let summary = tempfile::tempdir().unwrap();
    let summary = summary.path().join("body.md");
    let file = PayloadFile::new(&client_payload());
    let run = repo
        .run(
            "revert",
            &[&file.arg(), "--summary-file", summary.to_str().unwrap()],
        )
        .ok();
    let stable = format!("{IMAGE}@{}", digest('b'));
    assert_eq!(
        run.stdout.trim(),
        format!(
            "prod: {} -> {stable}; denied {}",
            aborted_image(),
            aborted_digest()
        )
    );
    assert_eq!(repo.rendered_image("prod"), stable);
    assert_eq!(repo.changed_files(), [DENY_LIST, PROD]);
    let pin_lines: Vec<String> = repo
        .changed_lines()
        .into_iter()
        .filter(|l| l.contains("newTag") || l.contains("digest: sha256"))
        .filter(|l| !l.starts_with("+  - digest"))
        .collect();
    assert_eq!(
        pin_lines,
        [
            "-    newTag: sha-3f9a1c2".to_string(),
            format!("-    digest: {}", aborted_digest()),
            format!("+    digest: {}", digest('b')),
        ]
    );
    let denied = DenyList::parse(&repo.read(DENY_LIST)).unwrap();
    assert_eq!(
        denied.entries,
        [Denial {
            digest: aborted_digest(),
            tag: Some("sha-3f9a1c2".into()),
            environment: "prod".into(),
            analysis_run: Some("greeter-64b9c7bd6-7".into()),
            at: "2026-12-01T09:15:30Z".into(),
            reason: "Metric \"success-rate\" assessed Failed due to failed (2) > failureLimit (1)"
                .into(),
        }]
    );
    assert!(repo.read(DENY_LIST).starts_with(EMPTY_DENY_LIST));
    let body = std::fs::read_to_string(summary).unwrap();
    for part in [
        "## Revert greeter in prod: canary aborted",
        &aborted_image(),
        &stable,
        "greeter-64b9c7bd6-7",
        "stable `5d86cc8b9d`",
        "assessed Failed",
    ] {
        assert!(body.contains(part), "{part} not in:\n{body}");
    }

    // Idempotent: the same notification again changes nothing.
    let state = repo.state();
    let again = revert(&repo, &client_payload()).ok();
    assert_eq!(repo.state(), state);
    assert!(
        again.stdout.contains("already off") && again.stdout.contains("already denied"),
        "{}",
        again.stdout
    );

    // What CI says about the revert PR: prod rolls back, nothing runs a denied digest.
    let check = repo.run("promote", &["--check", "HEAD"]).ok();
    assert!(
        check.stdout.contains("prod rolls back to"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("no environment receives a denied digest"),
        "{}",
        check.stdout
    );
}

#[test]
fn walks_back_past_digests_that_are_denied() {
    let repo = Repo::new();
    let denied_earlier = digest('c');
    pin(&repo, "prod", &format!("{IMAGE}@{denied_earlier}"));
    // The revert of `c` never merged; a newer release came on top of it.
    repo.write(
        DENY_LIST,
        &format!(
            "{EMPTY_DENY_LIST}  - digest: {denied_earlier}\n    tag: null\n    environment: prod\n    analysisRun: null\n    at: \"2026-11-30T12:00:00Z\"\n    reason: by hand\n"
        ),
    );
    repo.commit("deny c");
    pin(&repo, "prod", &aborted_image());
    revert(&repo, &client_payload()).ok();
    assert_eq!(
        repo.rendered_image("prod"),
        format!("{IMAGE}@{}", digest('a'))
    );
    assert_eq!(
        DenyList::parse(&repo.read(DENY_LIST))
            .unwrap()
            .entries
            .len(),
        2
    );
}

#[test]
fn an_environment_that_moved_on_keeps_its_pin_and_the_digest_is_denied() {
    let repo = aborted_in_prod();
    let newer = format!("{IMAGE}@{}", digest('d'));
    pin(&repo, "prod", &newer);
    let run = revert(&repo, &client_payload()).ok();
    assert!(
        run.stdout.contains(&format!(
            "prod: already off {}, pins {newer}",
            aborted_digest()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(repo.changed_files(), [DENY_LIST]);
    assert_eq!(repo.rendered_image("prod"), newer);
}

#[test]
fn refuses_when_no_earlier_pin_is_allowed() {
    let repo = Repo::new();
    repo.write(
        DENY_LIST,
        &format!(
            "{EMPTY_DENY_LIST}  - digest: {}\n    tag: null\n    environment: prod\n    analysisRun: null\n    at: \"2026-11-30T12:00:00Z\"\n    reason: by hand\n",
            digest('a')
        ),
    );
    repo.commit("deny a");
    pin(&repo, "prod", &aborted_image());
    revert(&repo, &client_payload()).refused("pinned no image before");
    assert_eq!(repo.state(), "");
}

#[test]
fn refuses_bad_payloads_without_touching_the_tree() {
    let repo = aborted_in_prod();
    let with = |key: &str, value: Value| {
        let mut payload = client_payload();
        payload[key] = value;
        payload
    };
    let without = |key: &str| {
        let mut payload = client_payload();
        payload.as_object_mut().unwrap().remove(key);
        payload
    };
    let never_pinned = format!("{IMAGE}:sha-1234567@{}", digest('e'));
    let cases = [
        (with("environment", json!("qa")), "unknown environment `qa`"),
        (
            with("namespace", json!("greeter-staging")),
            "is not prod's (`greeter-prod`)",
        ),
        (
            with("rollout", json!("other")),
            "Rollout `other` is not one this repository deploys",
        ),
        (
            with("abortedImage", json!(format!("{IMAGE}:sha-3f9a1c2"))),
            "has no digest: nothing to deny",
        ),
        (
            with(
                "abortedImage",
                json!(format!("docker.io/evil/greeter@{}", digest('e'))),
            ),
            "is not `ghcr.io/greeter-gitops/greeter`",
        ),
        (
            with("abortedAt", json!("2026-12-01T10:15:30+01:00")),
            "not an RFC 3339 UTC time",
        ),
        (with("stable", json!("x")), "unknown field `stable`"),
        (without("analysisRun"), "missing field `analysisRun`"),
        (
            with("abortedImage", json!(never_pinned)),
            "prod never pinned sha256:eeee",
        ),
        (
            with("environment", json!("dev")),
            "is not dev's (`greeter-dev`)",
        ),
    ];
    for (payload, reason) in cases {
        revert(&repo, &payload).refused(reason);
        assert_eq!(repo.state(), "", "{payload} changed the tree");
    }
    let mut dev = with("environment", json!("dev"));
    dev["namespace"] = json!("greeter-dev");
    revert(&repo, &dev).refused("dev never pinned");
    let garbage = PayloadFile::raw("{\"event_type\":");
    repo.run("revert", &[&garbage.arg()])
        .refused("not a rollout-aborted payload");
    assert_eq!(repo.state(), "");
    assert_eq!(repo.run("revert", &[]).code, 2);
    assert_eq!(repo.run("revert", &["--summary-file", "x"]).code, 2);
}

#[test]
fn a_deny_list_it_cannot_append_to_leaves_the_pin_as_it_was() {
    let repo = aborted_in_prod();
    repo.write(DENY_LIST, "denied: []\n");
    repo.commit("flow-style deny-list");
    revert(&repo, &client_payload()).refused("unsupported layout");
    assert_eq!(repo.state(), "");
}

/// Prod's overlay with one more ConfigMap literal: the generated name's hash is in the pod
/// template, so this rolls a canary.
fn with_literal(repo: &Repo, literal: &str) -> String {
    repo.read(PROD).replace(
        "- APP_ENV=prod\n",
        &format!("- APP_ENV=prod\n      - {literal}\n"),
    )
}

/// A repository whose greeter reads the overlays' generated ConfigMap, as the real base does: its
/// `envFrom` names the ConfigMap with its content hash, taught to kustomize as the real base's
/// rollout-transform.yaml does.
fn reading_its_config() -> Repo {
    let repo = Repo::new();
    repo.write(
        "deploy/base/rollout-transform.yaml",
        "nameReference:\n  - kind: ConfigMap\n    version: v1\n    fieldSpecs:\n      - path: spec/template/spec/containers/envFrom/configMapRef/name\n        kind: Rollout\n",
    );
    let base = repo.read("deploy/base/kustomization.yaml");
    repo.write(
        "deploy/base/kustomization.yaml",
        &format!("configurations:\n  - rollout-transform.yaml\n{base}"),
    );
    edit_base_rollout(
        &repo,
        "          ports:\n",
        "          envFrom:\n            - configMapRef:\n                name: greeter-config\n          ports:\n",
        "the greeter reads its ConfigMap",
    );
    repo
}

/// Edits the base Rollout and commits; returns the short commit id.
fn edit_base_rollout(repo: &Repo, from: &str, to: &str, message: &str) -> String {
    let path = "deploy/base/rollout.yaml";
    let text = repo.read(path);
    assert!(text.contains(from), "{from} not in {path}");
    repo.write(path, &text.replacen(from, to, 1));
    repo.commit(message)
}

#[test]
fn an_abort_after_a_pod_template_change_denies_nothing_and_names_the_change() {
    let repo = abort_in_prod(reading_its_config());
    repo.write(PROD, &with_literal(&repo, "GREETING=hi"));
    let literal = repo.commit("prod: greet differently");
    // Neither changes the pod template, so neither starts a canary: not named.
    let comment = edit_base_rollout(
        &repo,
        "apiVersion",
        "# The greeter.\napiVersion",
        "a comment",
    );
    let replicas = edit_base_rollout(&repo, "replicas: 2", "replicas: 3", "three replicas");
    let deny_list = repo.read(DENY_LIST);
    let refusal = format!(
        "prod: the aborted canary ran {}, which prod already ran",
        aborted_digest()
    );

    let refused = revert(&repo, &client_payload()).refused(&refusal);
    for part in [&literal, "prod runs ghcr.io", "Nothing denied"] {
        assert!(
            refused.stderr.contains(part),
            "{part} not in:\n{}",
            refused.stderr
        );
    }
    for part in [&comment, &replicas] {
        assert!(
            !refused.stderr.contains(part),
            "{part} in:\n{}",
            refused.stderr
        );
    }
    assert_eq!(repo.state(), "");
    assert_eq!(repo.rendered_image("prod"), aborted_image());
    assert_eq!(repo.read(DENY_LIST), deny_list);

    // A change to the pod template in deploy/base: the newest change is the one named.
    let base = edit_base_rollout(
        &repo,
        "        - name: greeter\n",
        "        - name: greeter\n          args: [--verbose]\n",
        "base: a verbose greeter",
    );
    let refused = revert(&repo, &client_payload())
        .refused(&refusal)
        .refused(&base);
    assert!(!refused.stderr.contains(&literal), "{}", refused.stderr);
    assert_eq!(repo.state(), "");

    // A newer release merged before the revert ran: still the change, not the image.
    pin(&repo, "prod", &format!("{IMAGE}@{}", digest('d')));
    revert(&repo, &client_payload())
        .refused(&refusal)
        .refused(&base);
    assert_eq!(repo.state(), "");
}

#[test]
fn a_release_of_image_and_configuration_together_is_an_image_release() {
    let repo = reading_its_config();
    repo.write(DENY_LIST, EMPTY_DENY_LIST);
    repo.commit("deny-list");
    repo.run("bump-image", &["prod", &aborted_image()]).ok();
    repo.write(PROD, &with_literal(&repo, "GREETING=hi"));
    let release = repo.commit("prod: new image and a new greeting");
    let summary = tempfile::tempdir().unwrap();
    let summary = summary.path().join("body.md");
    let file = PayloadFile::new(&client_payload());
    repo.run(
        "revert",
        &[&file.arg(), "--summary-file", summary.to_str().unwrap()],
    )
    .ok();
    let stable = format!("{IMAGE}@{}", digest('a'));
    assert_eq!(repo.rendered_image("prod"), stable);
    assert_eq!(repo.changed_files(), [DENY_LIST, PROD]);
    assert_eq!(
        DenyList::parse(&repo.read(DENY_LIST)).unwrap().entries[0].digest,
        aborted_digest()
    );
    let body = std::fs::read_to_string(&summary).unwrap();
    assert!(
        body.contains("also changed prod's pod template besides the image")
            && body.contains(&release),
        "{body}"
    );
    repo.commit("revert prod");

    // The configuration was the cause: the stable image's canary with it aborts too, and that
    // revert is refused, naming the release that brought the configuration.
    let mut stable_aborted = client_payload();
    stable_aborted["abortedImage"] = json!(stable);
    revert(&repo, &stable_aborted)
        .refused(&format!(
            "the aborted canary ran {}, which prod already ran at `",
            digest('a')
        ))
        .refused(&release);
    assert_eq!(repo.state(), "");
}
