//! The platform as Argo CD deploys it, rendered for real: every chart Application through
//! `scripts/charts` (helm 4.2.1 with Argo CD v3.5.1's arguments, `--api-versions` included) on the
//! first sync of an empty cluster and at steady state. Checks: every chart renders, every kind
//! is served when its wave applies it, every rendered object is valid, every ConfigMap/Secret a
//! workload needs arrives no later than the workload (else the first sync never converges), every
//! values key has an effect. Each check also runs on a broken fixture
//! (tests/fixtures/platform/) and must catch it.
//!
//! `GREETER_POLICY_TREE=DIR` checks another checkout's argocd/ (e.g. `git archive HEAD` unpacked
//! in DIR) with this checkout's tools.

use policy::argocd::{self, App, Rendered};
use policy::platform::{self, Platform};
use policy::{parse_documents, render, repo_root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

struct Tree {
    root: PathBuf,
    objects: Vec<Value>,
    apps: Vec<App>,
    platform: Platform,
}

fn load(root: &Path, objects: Vec<Value>) -> Tree {
    let (apps, expansion_violations) = argocd::expand_applications(&objects, root);
    let (in_repo, render_violations): (Rendered, _) = argocd::render_in_repo_sources(&apps, root);
    assert_clean(
        expansion_violations
            .into_iter()
            .chain(render_violations)
            .collect(),
    );
    let started = Instant::now();
    let platform = platform::render(&apps, &objects, &in_repo, root);
    eprintln!(
        "rendered {} chart Applications (first sync and steady state) in {:.1} s",
        platform.charts.apps.len(),
        started.elapsed().as_secs_f64()
    );
    Tree {
        root: root.to_path_buf(),
        objects,
        apps,
        platform,
    }
}

/// The checkout under test: this one, or the one GREETER_POLICY_TREE names.
fn tree_root() -> PathBuf {
    std::env::var_os("GREETER_POLICY_TREE").map_or_else(repo_root, PathBuf::from)
}

/// argocd/ as the root Application syncs it, rendered once per test binary.
fn argocd_tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let root = tree_root();
        load(&root, render(&root.join("argocd")))
    })
}

fn fixture(file: &str) -> Tree {
    let path = repo_root()
        .join("policy/tests/fixtures/platform")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let objects = parse_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    load(&repo_root(), objects)
}

fn assert_clean(violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "violations:\n  {}",
        violations.join("\n  ")
    );
}

/// Every expected fragment appears in some violation.
fn assert_caught(violations: Vec<String>, expected: &[&str]) {
    for fragment in expected {
        assert!(
            violations.iter().any(|v| v.contains(fragment)),
            "expected a violation containing {fragment:?}; got:\n  {}",
            violations.join("\n  ")
        );
    }
}

#[test]
fn every_chart_renders_on_the_first_sync_and_at_steady_state() {
    let tree = argocd_tree();
    assert_clean(tree.platform.charts.violations.clone());
    let charts = tree.apps.iter().filter(|a| platform::is_chart_app(a));
    for app in charts {
        for (pass, renders) in [
            ("first sync", &tree.platform.charts.first_sync),
            ("steady state", &tree.platform.charts.steady),
        ] {
            assert!(
                renders
                    .rendered
                    .get(&app.name)
                    .is_some_and(|o| !o.is_empty()),
                "{} rendered nothing ({pass})",
                app.name
            );
        }
    }
    // What only the steady state renders arrives on the next sync (Argo CD renders again when the
    // cluster's API versions change): worth knowing, not a failure.
    for difference in tree
        .platform
        .first_sync_differences(&tree.apps, &tree.objects)
    {
        eprintln!("only after the first sync: {difference}");
    }
}

#[test]
fn every_kind_is_served_when_its_wave_applies_it() {
    let tree = argocd_tree();
    assert_clean(tree.platform.unserved_kinds(&tree.apps, &tree.objects));
}

/// An OCI chart is a Helm source without a scheme (Argo CD v3.5.1 `IsHelmOciRepo`); with `oci://`
/// Argo CD would treat it as a plain OCI artifact, so scripts/charts refuses to render it as a chart.
#[test]
fn oci_charts_in_the_oci_scheme_are_refused() {
    let tree = fixture("oci.yaml");
    assert_caught(
        tree.platform.charts.violations.clone(),
        &["repoURL oci://ghcr.io/nginx/charts is an OCI source to Argo CD v3.5.1, not a Helm chart source"],
    );
}

#[test]
fn kinds_served_only_later_or_never_are_caught() {
    let tree = fixture("renders.yaml");
    assert_caught(
        tree.platform.unserved_kinds(&tree.apps, &tree.objects),
        &[
            "Application alloy ServiceMonitor/alloy-typo: no CRD serves monitoring.coreos.com/v1/ServiceMonitor",
            "Application alloy Widget/early (wave -20): example.com/v1/Widget is served only from wave 0 on (argocd/ (root) CustomResourceDefinition/widgets.example.com)",
        ],
    );
}

#[test]
fn charts_see_the_api_versions_of_earlier_waves_only() {
    let tree = fixture("renders.yaml");
    assert_clean(tree.platform.charts.violations.clone());
    // Alloy renders its VerticalPodAutoscaler only when the cluster serves the kind: not on the
    // first sync (wave -20, the CRD comes at wave 0), at steady state.
    assert_eq!(
        tree.platform
            .first_sync_differences(&tree.apps, &tree.objects),
        ["alloy: +observability VerticalPodAutoscaler/alloy"]
    );
}

#[test]
fn chart_renders_validate_strictly() {
    let started = Instant::now();
    let validated = platform::validate(&argocd_tree().platform.charts);
    eprintln!(
        "validated the chart renders in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Err(report) = validated {
        panic!("{report}");
    }
}

#[test]
fn unknown_fields_and_kinds_in_chart_renders_are_caught() {
    let tree = fixture("renders.yaml");
    assert_clean(tree.platform.charts.violations.clone());
    let report = platform::validate(&tree.platform.charts)
        .expect_err("scripts/validate accepted the broken render");
    for expected in [
        "'valu' was unexpected",
        "'endpointz' was unexpected",
        "no schema for alloy.first-sync: Widget/early (example.com/v1)",
    ] {
        assert!(
            report.contains(expected),
            "scripts/validate did not report {expected:?}:\n{report}"
        );
    }
}

#[test]
fn every_config_map_and_secret_arrives_no_later_than_its_consumers() {
    let tree = argocd_tree();
    assert_clean(tree.platform.undelivered(&tree.apps, &tree.objects));
}

#[test]
fn consumers_before_their_producers_are_caught() {
    let tree = fixture("waves.yaml");
    assert_clean(tree.platform.charts.violations.clone());
    let violations = tree.platform.undelivered(&tree.apps, &tree.objects);
    assert_caught(
        violations.clone(),
        &[
            "Application alloy DaemonSet/alloy (wave -20, volume config) needs ConfigMap observability/alloy-config, which arrives only later: argocd/ (root) ConfigMap/alloy-config at wave -5",
            "Application alloy DaemonSet/alloy (wave -20, env REGION of container alloy) needs key [\"region\"] of ConfigMap observability/alloy-settings: argocd/ (root) ConfigMap/alloy-settings has [zone]",
            "Application alloy DaemonSet/alloy (wave -20, env PASSWORD of container alloy) needs Secret observability/alloy-password, which nothing delivers",
            "Application alloy DaemonSet/alloy (wave -20, env HOOKED of container alloy) needs ConfigMap observability/alloy-hooked, which arrives only later: Application alloy ConfigMap/alloy-hooked (PostSync, wave 0)",
            "Application alloy Alertmanager/main (wave -20, spec.secrets (mounted by the Prometheus Operator)) needs Secret observability/alertmanager-secrets, which nothing delivers",
            "Application alloy Alertmanager/main (wave -20, spec.configMaps (mounted by the Prometheus Operator)) needs ConfigMap observability/alertmanager-templates, which nothing delivers",
            "Application alloy Alertmanager/main (wave -20, spec.configSecret (Alertmanager's configuration, read by the Prometheus Operator)) needs Secret observability/alertmanager-main, which nothing delivers",
        ],
    );
    // The ExternalSecret of the same wave and the optional reference are in order.
    assert_eq!(
        violations.len(),
        7,
        "only the broken references: {violations:#?}"
    );
}

#[test]
fn runtime_secrets_stay_accurate() {
    let tree = argocd_tree();
    assert_clean(
        tree.platform
            .unused_runtime_secrets(&tree.apps, &tree.objects),
    );
}

#[test]
fn every_values_key_has_an_effect() {
    let tree = argocd_tree();
    let report = platform::probe_values(&tree.apps, &tree.platform.charts, &tree.root);
    eprintln!(
        "values probe: {} renders in {:.1} s",
        report.renders,
        report.elapsed.as_secs_f64()
    );
    assert_clean(report.violations);
}

#[test]
fn values_keys_without_effect_are_caught() {
    let tree = fixture("values.yaml");
    assert_clean(tree.platform.charts.violations.clone());
    let report = platform::probe_values(&tree.apps, &tree.platform.charts, &tree.root);
    let base = "policy/tests/fixtures/platform/values/alloy-base.yaml";
    assert_eq!(
        report.violations,
        [
            format!("alloy.notAKey in {base} has no effect (Application alloy: neither changing nor removing it changes what the chart renders)"),
            format!("alloy.resources.requests.cpu in {base} has no effect (Application alloy: neither changing nor removing it changes what the chart renders)"),
        ],
    );
}

#[test]
fn rendered_objects_find_what_the_platform_provides() {
    let tree = argocd_tree();
    assert_clean(argocd::platform_references(
        &tree.apps,
        &tree.objects,
        &tree.platform.steady,
    ));
}

#[test]
fn dangling_platform_references_are_caught() {
    let tree = fixture("references.yaml");
    assert_clean(tree.platform.charts.violations.clone());
    let violations = argocd::platform_references(&tree.apps, &tree.objects, &tree.platform.steady);
    assert_caught(
        violations.clone(),
        &[
            "Application web Gateway/web: cluster-issuer letsencrypt-prod is not a ClusterIssuer in argocd/",
            "Application web Gateway/web: gatewayClassName \"nginx\" is not a GatewayClass any Application renders ([\"public\"])",
            "Application web ServiceMonitor/web: is not selected by any Prometheus",
            "Application web ConfigMap/web-config: OTEL_EXPORTER_OTLP_ENDPOINT http://otel-collector.observability.svc:4318 is no port of a Service any Application renders",
        ],
    );
    // ServiceMonitor web-ok and ConfigMap good-config point where the platform is.
    assert_eq!(
        violations.len(),
        4,
        "only the broken references: {violations:#?}"
    );
}

#[test]
fn rollouts_load_the_pinned_gateway_api_plugin_and_may_update_routes() {
    let steady = &argocd_tree().platform.charts.steady.rendered;
    assert_clean(platform::traffic_router(steady));

    let mut broken = steady.clone();
    let objects = broken
        .get_mut("argo-rollouts")
        .expect("argo-rollouts rendered");
    for object in objects.iter_mut() {
        if object["kind"] == "ConfigMap" && object["metadata"]["name"] == "argo-rollouts-config" {
            object["data"]["trafficRouterPlugins"] = serde_json::json!(
                "- name: argoproj-labs/gatewayAPI\n  location: https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/latest/download/gatewayapi-plugin-linux-amd64\n"
            );
        }
        if object["kind"] == "ClusterRole" && object["metadata"]["name"] == "argo-rollouts" {
            object["rules"]
                .as_array_mut()
                .expect("rules")
                .retain(|r| !r["resources"].to_string().contains("httproutes"));
        }
    }
    assert_caught(
        platform::traffic_router(&broken),
        &[
            "plugin location \"https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/latest/download/gatewayapi-plugin-linux-amd64\" is not a release binary",
            "plugin argoproj-labs/gatewayAPI has no sha256",
            "ClusterRole argo-rollouts: may not update httproutes",
        ],
    );
}

#[test]
fn the_gateway_control_plane_is_where_the_network_policies_admit_it() {
    let steady = &argocd_tree().platform.charts.steady.rendered;
    assert_clean(platform::control_plane(steady));

    let mut broken = steady.clone();
    for object in broken.get_mut("nginx-gateway-fabric").expect("rendered") {
        if object["kind"] == "Deployment" {
            object["metadata"]["namespace"] = serde_json::json!("gateway");
            object["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] =
                serde_json::json!("ngf");
        }
    }
    assert_caught(
        platform::control_plane(&broken),
        &[
            "the control plane runs in gateway, the policies admit it in nginx-gateway",
            "lack label app.kubernetes.io/instance=\"nginx-gateway-fabric\"",
            "is not nginx-gateway-fabric",
        ],
    );
}
