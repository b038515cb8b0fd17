//! The notification Argo Rollouts sends on an abort (argocd/platform/values/argo-rollouts.yaml) and
//! what scripts/revert reads cannot drift apart: the template is rendered by text/template with
//! sprig, as the controller renders it (notification-render/, a Go program pinned to the controller's
//! module versions), and the result must equal tests/fixtures/rollout-aborted/dispatch.json, which
//! the revert tests feed to scripts/revert. The rest of the path (service, trigger, subscription,
//! Secret, workflow trigger) is checked against the files that configure it.

mod common;
use common::{dispatch_fixture, fixture_path};
use release_tools::abort_payload::{AbortPayload, EVENT_TYPE};
use release_tools::image_ref::GREETER_IMAGE;
use serde_json::{json, Value};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The notifications-engine version whose template code notification-render mirrors
/// (pkg/templates/service.go, pkg/services/webhook.go): when the controller's changes, re-read them.
const MIRRORED_NOTIFICATIONS_ENGINE: &str = "v0.5.0";
/// A clock off UTC, so the template's conversion to UTC is part of what is checked.
const ABORTED_AT: &str = "2026-12-01T10:15:30+01:00";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml(path: &str) -> Value {
    let text = fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The chart values' `notifications` section.
fn notifications() -> Value {
    yaml("argocd/platform/values/argo-rollouts.yaml")["notifications"].clone()
}

/// A ConfigMap entry of the notifications, which holds YAML.
fn entry(section: &str, key: &str) -> Value {
    let text = notifications()[section][key]
        .as_str()
        .unwrap_or_else(|| panic!("notifications.{section} has no `{key}`"))
        .to_string();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The webhook body of template `rollout-aborted` for the GitHub service.
fn body_template() -> String {
    let template = entry("templates", "template.rollout-aborted");
    assert_eq!(template["webhook"]["github"]["method"], "POST");
    template["webhook"]["github"]["body"]
        .as_str()
        .unwrap()
        .to_string()
}

fn controller_vars() -> Value {
    let path = fixture_path("rollout-aborted/controller-vars.json");
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Renders `template` with notification-render (`go run`), as the controller would for `vars`.
fn render(template: &str, vars: &Value) -> Result<String, String> {
    let request = json!({
        "template": template,
        "vars": vars,
        "now": ABORTED_AT,
        "serviceType": "github",
        "recipient": "",
    });
    let mut child = Command::new("go")
        .args(["run", "."])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("notification-render"))
        .env("CGO_ENABLED", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Go 1.23+ is installed (https://go.dev/dl; scripts/upstream needs it too)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn rendered_body(vars: &Value) -> Value {
    let text = render(&body_template(), vars).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text}"))
}

#[test]
fn the_template_renders_the_fixture_scripts_revert_reads() {
    let body = rendered_body(&controller_vars());
    assert_eq!(body, dispatch_fixture());
    assert_eq!(body["event_type"], EVENT_TYPE);
    let payload = body["client_payload"].as_object().unwrap();
    assert!(
        payload.len() <= 10,
        "GitHub accepts at most 10 top-level client_payload keys"
    );
    let parsed = AbortPayload::parse(&body["client_payload"].to_string()).unwrap();
    assert_eq!(parsed.environment.name(), "prod");
    assert_eq!(parsed.aborted_at, "2026-12-01T09:15:30Z");
    assert_eq!(parsed.analysis_run.unwrap().name, "greeter-64b9c7bd6-7");
}

#[test]
fn an_abort_before_any_analysis_still_sends_a_payload_scripts_revert_reads() {
    let mut vars = controller_vars();
    vars["analysisRuns"] = Value::Null;
    vars["rollout"]["status"]
        .as_object_mut()
        .unwrap()
        .remove("canary");
    let body = rendered_body(&vars);
    let parsed = AbortPayload::parse(&body["client_payload"].to_string()).unwrap();
    assert_eq!(parsed.analysis_run, None);
    assert!(parsed.reason().contains("before any analysis"));
}

#[test]
fn a_template_that_drifts_from_the_reader_is_caught() {
    let renamed = body_template().replace("\"abortedImage\"", "\"image\"");
    let body: Value = serde_json::from_str(&render(&renamed, &controller_vars()).unwrap()).unwrap();
    assert_ne!(body, dispatch_fixture());
    let error = AbortPayload::parse(&body["client_payload"].to_string()).unwrap_err();
    assert!(error.contains("unknown field `image`"), "{error}");
    // Unescaped text would break the JSON: the template must build it with toJson.
    let raw = r#"{"message": "{{ (index .analysisRuns 0).status.message }}"}"#;
    let text = render(raw, &controller_vars()).unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    // A syntax error fails the render, as it would fail the controller's notification.
    assert!(render("{{ dict \"a\" }", &controller_vars()).is_err());
}

#[test]
fn every_greeter_rollout_sends_it_to_this_repository_with_a_token_from_vault() {
    // The webhook service posts to this repository's dispatches endpoint.
    let service = entry("notifiers", "service.webhook.github");
    let repo_url = yaml("argocd/platform/argo-rollouts.yaml")["spec"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| {
            s["repoURL"]
                .as_str()
                .filter(|u| u.starts_with("https://github.com/"))
        })
        .unwrap()
        .to_string();
    let repository = repo_url
        .trim_start_matches("https://github.com/")
        .trim_end_matches(".git");
    assert_eq!(
        service["url"],
        format!("https://api.github.com/repos/{repository}/dispatches")
    );
    let header = |name: &str| {
        service["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| h["value"].as_str().unwrap().to_string())
    };
    assert_eq!(
        header("Accept").as_deref(),
        Some("application/vnd.github+json")
    );
    let authorization = header("Authorization").unwrap();
    let key = authorization
        .strip_prefix("Bearer $")
        .expect("the token is a `$key` of argo-rollouts-notification-secret, never a literal");

    // The key reaches the Secret the controller reads, in the controller's namespace.
    let secret = yaml("argocd/platform/argo-rollouts-notification-secret.yaml");
    let app = yaml("argocd/platform/argo-rollouts.yaml");
    assert_eq!(
        secret["metadata"]["namespace"],
        app["spec"]["destination"]["namespace"]
    );
    assert_eq!(
        secret["spec"]["target"]["name"],
        "argo-rollouts-notification-secret"
    );
    assert!(secret["spec"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["secretKey"] == key));
    let platform =
        fs::read_to_string(repo_root().join("argocd/platform/kustomization.yaml")).unwrap();
    assert!(platform.contains("  - argo-rollouts-notification-secret.yaml\n"));

    // RolloutAborted -> on-rollout-aborted, which sends the template.
    assert_eq!(
        entry("triggers", "trigger.on-rollout-aborted"),
        json!([{"send": ["rollout-aborted"]}])
    );

    // The global subscription selects the Rollout every overlay renders.
    let subscriptions = notifications()["subscriptions"].clone();
    assert_eq!(subscriptions.as_array().unwrap().len(), 1);
    let subscription = &subscriptions[0];
    assert_eq!(subscription["recipients"], json!(["github"]));
    assert_eq!(subscription["triggers"], json!(["on-rollout-aborted"]));
    let (label, value) = subscription["selector"]
        .as_str()
        .unwrap()
        .split_once('=')
        .unwrap();
    for env in ["dev", "staging", "prod"] {
        let objects =
            release_tools::kustomize::render(&repo_root().join("deploy/overlays").join(env))
                .unwrap();
        let rollout = objects
            .iter()
            .find(|o| o["kind"] == "Rollout" && o["metadata"]["name"] == "greeter")
            .unwrap();
        assert_eq!(rollout["metadata"]["labels"][label], value, "{env}");
        assert_eq!(rollout["metadata"]["namespace"], format!("greeter-{env}"));
        // The template reads the first container's image.
        let first = &rollout["spec"]["template"]["spec"]["containers"][0];
        assert!(
            first["image"].as_str().unwrap().starts_with(GREETER_IMAGE),
            "{env}: {first}"
        );
    }

    // The revert workflow starts on exactly this event type.
    let workflow = yaml(".github/workflows/revert.yaml");
    assert_eq!(
        workflow["on"]["repository_dispatch"]["types"],
        json!([EVENT_TYPE])
    );
}

/// `module version` requirements of a go.mod.
fn go_requirements(path: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("require ")
                .split("//")
                .next()
                .unwrap()
                .trim()
        })
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(module), Some(version), None)
                    if version.starts_with('v') && module.contains('.') =>
                {
                    Some((module.to_string(), version.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn notification_render_builds_sprig_exactly_as_the_controller_is_built() {
    let controller = go_requirements(&repo_root().join("tools/upstream/argo-rollouts/go.mod"));
    let renderer =
        go_requirements(&Path::new(env!("CARGO_MANIFEST_DIR")).join("notification-render/go.mod"));
    assert!(renderer
        .iter()
        .any(|(m, _)| m == "github.com/Masterminds/sprig/v3"));
    for requirement in &renderer {
        assert!(
            controller.contains(requirement),
            "notification-render requires {requirement:?}, the controller build does not"
        );
    }
    assert!(
        controller.contains(&(
            "github.com/argoproj/notifications-engine".to_string(),
            MIRRORED_NOTIFICATIONS_ENGINE.to_string()
        )),
        "the controller no longer builds notifications-engine {MIRRORED_NOTIFICATIONS_ENGINE}: \
         check what notification-render mirrors, then update it and this constant"
    );
}
