//! scripts/bump-image against real git repositories and real `kubectl kustomize`.

mod common;
use common::{digest, Repo, IMAGE};

#[test]
fn dev_tag_bump_changes_one_line_and_renders_the_new_image() {
    let repo = Repo::new();
    let run = repo
        .run("bump-image", &["dev", &format!("{IMAGE}:sha-2222222")])
        .ok();
    assert!(
        run.stdout
            .contains("dev: ghcr.io/greeter-gitops/greeter:sha-1111111 -> "),
        "{}",
        run.stdout
    );
    assert_eq!(
        repo.changed_files(),
        ["deploy/overlays/dev/kustomization.yaml"]
    );
    assert_eq!(
        repo.changed_lines(),
        ["-    newTag: sha-1111111", "+    newTag: sha-2222222"]
    );
    assert_eq!(repo.rendered_image("dev"), format!("{IMAGE}:sha-2222222"));
}

#[test]
fn adding_and_dropping_keys_touches_only_those_lines() {
    let repo = Repo::new();
    let pinned = format!("{IMAGE}:sha-2222222@{}", digest('b'));
    repo.run("bump-image", &["dev", &pinned]).ok();
    assert_eq!(
        repo.changed_lines(),
        [
            "-    newTag: sha-1111111",
            "+    newTag: sha-2222222",
            &format!("+    digest: {}", digest('b'))
        ]
    );
    assert_eq!(repo.rendered_image("dev"), pinned);
    repo.commit("dev on tag and digest");

    repo.run(
        "bump-image",
        &["staging", &format!("{IMAGE}@{}", digest('c'))],
    )
    .ok();
    assert_eq!(
        repo.changed_lines(),
        [
            "-    newTag: sha-1111111",
            &format!("-    digest: {}", digest('a')),
            &format!("+    digest: {}", digest('c'))
        ]
    );
    assert_eq!(
        repo.rendered_image("staging"),
        format!("{IMAGE}@{}", digest('c'))
    );
}

#[test]
fn second_identical_bump_changes_nothing_and_succeeds() {
    let repo = Repo::new();
    let pinned = format!("{IMAGE}:sha-2222222@{}", digest('b'));
    repo.run("bump-image", &["prod", &pinned]).ok();
    let after_first = repo.read("deploy/overlays/prod/kustomization.yaml");
    let state = repo.state();
    let second = repo.run("bump-image", &["prod", &pinned]).ok();
    assert!(second.stdout.contains("prod: already"), "{}", second.stdout);
    assert_eq!(
        repo.read("deploy/overlays/prod/kustomization.yaml"),
        after_first
    );
    assert_eq!(repo.state(), state);
}

#[test]
fn refuses_bad_references_without_touching_the_tree() {
    let repo = Repo::new();
    let d = digest('b');
    let cases = [
        (vec!["dev".to_string(), format!("{IMAGE}:latest")], "latest"),
        (
            vec!["dev".to_string(), format!("{IMAGE}:latest@{d}")],
            "latest",
        ),
        (
            vec!["dev".to_string(), format!("{IMAGE}:main")],
            "not a release tag",
        ),
        (
            vec!["dev".to_string(), format!("{IMAGE}@sha256:1234")],
            "64 lowercase hex",
        ),
        (
            vec![
                "dev".to_string(),
                format!("{IMAGE}@{}", d.to_uppercase().replace("SHA256", "sha256")),
            ],
            "64 lowercase hex",
        ),
        (
            vec!["dev".to_string(), IMAGE.to_string()],
            "neither a tag nor a digest",
        ),
        (
            vec!["dev".to_string(), format!("docker.io/evil/greeter@{d}")],
            "is not `ghcr.io/greeter-gitops/greeter`",
        ),
        (
            vec!["staging".to_string(), format!("{IMAGE}:sha-2222222")],
            "staging requires a digest",
        ),
        (
            vec!["prod".to_string(), format!("{IMAGE}:1.2.3")],
            "prod requires a digest",
        ),
        (
            vec!["qa".to_string(), format!("{IMAGE}@{d}")],
            "unknown environment `qa`",
        ),
    ];
    for (args, reason) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        repo.run("bump-image", &args).refused(reason);
        assert_eq!(repo.state(), "", "{args:?} changed the tree");
    }
    let usage = repo.run("bump-image", &["dev"]);
    assert_eq!(usage.code, 2, "missing argument is a usage error");
    assert!(usage.stderr.contains("usage: bump-image"));
}

#[test]
fn restores_the_file_when_the_render_does_not_run_the_requested_image() {
    let repo = Repo::new();
    // An overlay that no longer includes the base: the edit succeeds but renders no Rollout.
    let orphan = repo
        .read("deploy/overlays/dev/kustomization.yaml")
        .replace("  - ../../base\n", "  []\n")
        .replace("resources:\n  []", "resources: []");
    repo.write("deploy/overlays/dev/kustomization.yaml", &orphan);
    repo.commit("dev without base");
    repo.run("bump-image", &["dev", &format!("{IMAGE}:sha-2222222")])
        .refused("no Rollout `greeter`");
    assert_eq!(repo.state(), "");

    // An overlay that does not render at all.
    let broken = orphan.replace("resources: []", "resources:\n  - missing.yaml");
    repo.write("deploy/overlays/dev/kustomization.yaml", &broken);
    repo.commit("dev broken");
    repo.run("bump-image", &["dev", &format!("{IMAGE}:sha-2222222")])
        .refused("kubectl kustomize");
    assert_eq!(repo.state(), "");
}

#[test]
fn refuses_overlays_it_cannot_edit_minimally() {
    let repo = Repo::new();
    let flow = repo.read("deploy/overlays/dev/kustomization.yaml").replace(
        "  - name: ghcr.io/greeter-gitops/greeter\n    newTag: sha-1111111\n",
        "  - {name: ghcr.io/greeter-gitops/greeter, newTag: sha-1111111}\n",
    );
    repo.write("deploy/overlays/dev/kustomization.yaml", &flow);
    repo.commit("flow style");
    repo.run("bump-image", &["dev", &format!("{IMAGE}:sha-2222222")])
        .refused("unsupported layout");
    assert_eq!(repo.state(), "");
}
