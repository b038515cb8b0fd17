//! Policies over the rendered dev/staging/prod overlays. Every policy is asserted clean on the
//! real trees and shown to catch a broken copy (the rendered tree mutated in memory, or a small
//! fixture kustomization under tests/fixtures/deploy for scripts/validate).

use policy::deploy::{admission, availability, canary, config, integrity, network, security, Env};
use policy::objects::find_mut;
use policy::{render, repo_root, run_validate};
use serde_json::{json, Value};
use std::sync::OnceLock;

/// Each overlay rendered once per test binary.
fn rendered(env: Env) -> &'static [Value] {
    static TREES: OnceLock<Vec<Vec<Value>>> = OnceLock::new();
    let trees = TREES.get_or_init(|| Env::ALL.iter().map(|e| render(&e.overlay())).collect());
    &trees[Env::ALL
        .iter()
        .position(|e| *e == env)
        .expect("known environment")]
}

/// A copy of the environment's tree with one object changed.
fn broken(env: Env, kind: &str, name: &str, change: impl FnOnce(&mut Value)) -> Vec<Value> {
    let mut objs = rendered(env).to_vec();
    change(
        find_mut(&mut objs, kind, name)
            .unwrap_or_else(|| panic!("{kind}/{name} not rendered in {env:?}")),
    );
    objs
}

/// The value at a JSON pointer, which must exist.
fn at<'a>(obj: &'a mut Value, pointer: &str) -> &'a mut Value {
    obj.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} not found"))
}

fn remove(obj: &mut Value, pointer: &str) {
    let (parent, field) = pointer.rsplit_once('/').expect("pointer with a parent");
    let field = field.replace("~1", "/").replace("~0", "~");
    let removed = at(obj, parent)
        .as_object_mut()
        .and_then(|m| m.remove(&field));
    assert!(removed.is_some(), "{pointer} not found");
}

#[track_caller]
fn assert_flags(violations: Vec<String>, expected: &str) {
    assert!(
        violations.iter().any(|v| v.contains(expected)),
        "expected a violation containing {expected:?}, got {violations:#?}"
    );
}

type Check = fn(Env, &[Value]) -> Vec<String>;

const CHECKS: [(&str, Check); 27] = [
    ("pod_security", |_, o| security::pod_security(o)),
    (
        "namespace_pods_admitted",
        admission::namespace_pods_admitted,
    ),
    ("namespaces", security::namespaces),
    ("no_secret_data", |_, o| security::no_secret_data(o)),
    ("images_pinned", security::images_pinned),
    ("probes", |_, o| availability::probes(o)),
    ("greeter_probes_and_shutdown", |_, o| {
        availability::greeter_probes_and_shutdown(o)
    }),
    ("resources", |_, o| availability::resources(o)),
    ("autoscaling", availability::autoscaling),
    ("disruption_budgets", |_, o| {
        availability::disruption_budgets(o)
    }),
    ("topology", availability::topology),
    ("service_selectors", |_, o| integrity::service_selectors(o)),
    ("route_references", |_, o| integrity::route_references(o)),
    ("scale_targets", |_, o| integrity::scale_targets(o)),
    ("rollout_references", |_, o| {
        integrity::rollout_references(o)
    }),
    ("service_monitor_references", |_, o| {
        integrity::service_monitor_references(o)
    }),
    ("config_references", |_, o| integrity::config_references(o)),
    ("canary_strategy", |_, o| canary::canary_strategy(o)),
    ("canary_route", |_, o| canary::canary_route(o)),
    ("canary_analysis", |_, o| canary::canary_analysis(o)),
    ("monitoring_hooks", |_, o| canary::monitoring_hooks(o)),
    ("services_contract", |_, o| canary::services_contract(o)),
    ("analysis_promql", |_, o| canary::analysis_promql(o)),
    ("config_and_secrets", config::config_and_secrets),
    ("redis", config::redis),
    ("gateway", config::gateway),
    ("network", |e, o| {
        [network::default_deny(o), network::exact_flows(e, o)].concat()
    }),
];

#[test]
fn every_overlay_passes_every_policy() {
    let mut failures = Vec::new();
    for env in Env::ALL {
        for (name, check) in CHECKS {
            failures.extend(
                check(env, rendered(env))
                    .into_iter()
                    .map(|v| format!("{env:?} {name}: {v}")),
            );
        }
    }
    let trees: Vec<(Env, &[Value])> = Env::ALL.iter().map(|e| (*e, rendered(*e))).collect();
    failures.extend(canary::steps_grow_cautious(&trees));
    failures.extend(availability::resources_grow(&trees));
    assert!(
        failures.is_empty(),
        "policy violations:\n{}",
        failures.join("\n")
    );
}

// ---- security ----

#[test]
fn pod_security_catches_privilege_escalation() {
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(
            r,
            "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation",
        ) = json!(true);
    });
    assert_flags(
        security::pod_security(&objs),
        "allowPrivilegeEscalation must be false",
    );
}

#[test]
fn pod_security_catches_root_and_missing_seccomp() {
    let objs = broken(Env::Dev, "StatefulSet", "redis", |s| {
        remove(s, "/spec/template/spec/securityContext/runAsUser");
        remove(
            s,
            "/spec/template/spec/containers/0/securityContext/runAsUser",
        );
        remove(s, "/spec/template/spec/securityContext/seccompProfile");
        remove(
            s,
            "/spec/template/spec/containers/0/securityContext/seccompProfile",
        );
    });
    let violations = security::pod_security(&objs);
    assert_flags(
        violations.clone(),
        "runAsUser must be a numeric non-root UID",
    );
    assert_flags(violations, "seccompProfile must be RuntimeDefault");
}

/// Pod Security "restricted" admits every pod of the namespace — the rendered ones and what NGINX
/// Gateway Fabric and cert-manager create there — and refuses each kind of violation.
#[test]
fn pod_security_admission_refuses_what_restricted_refuses() {
    use policy::runtime_pods;
    let gateway = policy::objects::find(rendered(Env::Staging), "Gateway", "greeter")
        .expect("Gateway greeter");
    let data_plane = runtime_pods::nginx_data_plane(gateway);
    let spec = &data_plane["spec"]["template"]["spec"];
    assert_eq!(admission::restricted(spec), Vec::<String>::new());
    assert_eq!(
        admission::restricted(&runtime_pods::acme_http01_solver("greeter-dev")["spec"]),
        Vec::<String>::new()
    );
    let broken = |change: fn(&mut Value)| {
        let mut spec = spec.clone();
        change(&mut spec);
        admission::restricted(&spec)
    };
    for (change, expected) in [
        (
            (|s: &mut Value| {
                s["securityContext"]["sysctls"][0]["name"] = json!("net.core.somaxconn")
            }) as fn(&mut Value),
            "forbidden sysctl net.core.somaxconn",
        ),
        (
            |s| s["containers"][0]["ports"][0]["hostPort"] = json!(80),
            "container nginx: hostPort must not be set",
        ),
        (
            |s| s["initContainers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true),
            "container init: allowPrivilegeEscalation must be false",
        ),
        (
            |s| s["securityContext"]["runAsNonRoot"] = json!(false),
            "pod runAsNonRoot must not be false",
        ),
        (
            |s| {
                s["containers"][0]["securityContext"]["seccompProfile"] =
                    json!({"type": "Unconfined"})
            },
            "container nginx: seccompProfile must be RuntimeDefault or Localhost",
        ),
        (
            |s| s["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["NET_ADMIN"]),
            "may add only NET_BIND_SERVICE, adds NET_ADMIN",
        ),
        (
            |s| s["volumes"][0] = json!({"name": "host", "hostPath": {"path": "/"}}),
            "restricted volume type (hostPath)",
        ),
        (
            |s| s["hostNetwork"] = json!(true),
            "hostNetwork must not be true",
        ),
        (
            |s| s["containers"][0]["securityContext"]["privileged"] = json!(true),
            "privileged must not be true",
        ),
    ] {
        assert_flags(broken(change), expected);
    }
    // Through the namespace check: a Gateway whose data plane would be refused is caught too.
    let mut objs = rendered(Env::Dev).to_vec();
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": spec.clone()});
    pod["spec"]["securityContext"]["sysctls"][0]["name"] = json!("kernel.msgmax");
    objs.push(pod);
    assert_flags(
        admission::namespace_pods_admitted(Env::Dev, &objs),
        "Pod/debug: forbidden sysctl kernel.msgmax",
    );
}

#[test]
fn pod_security_catches_default_service_account_and_token() {
    let objs = broken(Env::Staging, "StatefulSet", "redis", |s| {
        remove(s, "/spec/template/spec/serviceAccountName");
        *at(s, "/spec/template/spec/automountServiceAccountToken") = json!(true);
    });
    let violations = security::pod_security(&objs);
    assert_flags(violations.clone(), "needs a dedicated serviceAccountName");
    assert_flags(violations, "automountServiceAccountToken must be false");
}

#[test]
fn namespaces_catch_missing_pod_security_label_and_stray_namespace() {
    let mut objs = broken(Env::Dev, "Namespace", "greeter-dev", |n| {
        remove(n, "/metadata/labels/pod-security.kubernetes.io~1enforce")
    });
    *at(
        find_mut(&mut objs, "Service", "redis").expect("redis Service"),
        "/metadata/namespace",
    ) = json!("default");
    let violations = security::namespaces(Env::Dev, &objs);
    assert_flags(
        violations.clone(),
        "pod-security.kubernetes.io/enforce must be restricted",
    );
    assert_flags(violations, "Service/redis: namespace \"default\"");
}

#[test]
fn no_secret_data_catches_a_plain_secret() {
    let mut objs = rendered(Env::Dev).to_vec();
    objs.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak"}, "stringData": {"JWT_SECRET": "x"}}));
    assert_flags(
        security::no_secret_data(&objs),
        "Secret/leak: Secret with data",
    );
}

#[test]
fn images_pinned_catches_tags_in_prod_and_latest_in_dev() {
    let image = "/spec/template/spec/containers/0/image";
    let prod = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(r, image) = json!("ghcr.io/greeter-gitops/greeter:sha-1234567")
    });
    assert_flags(
        security::images_pinned(Env::Prod, &prod),
        "prod images must be pinned by digest",
    );
    let dev = broken(Env::Dev, "Rollout", "greeter", |r| {
        *at(r, image) = json!("ghcr.io/greeter-gitops/greeter:latest")
    });
    assert_flags(security::images_pinned(Env::Dev, &dev), "never use latest");
    let untagged = broken(Env::Dev, "StatefulSet", "redis", |s| {
        *at(s, image) = json!("docker.io/library/redis")
    });
    assert_flags(
        security::images_pinned(Env::Dev, &untagged),
        "image is not pinned",
    );
}

#[test]
fn image_entries_in_kustomizations_follow_the_contract() {
    for env in Env::ALL {
        let path = env.overlay().join("kustomization.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kustomization: Value =
            serde_yaml_ng::from_str(&text).expect("kustomization.yaml parses");
        let violations = security::image_entry(env, &kustomization);
        assert!(violations.is_empty(), "{violations:#?}");
    }
    let tag_in_staging =
        json!({"images": [{"name": "ghcr.io/greeter-gitops/greeter", "newTag": "sha-1234567"}]});
    assert_flags(
        security::image_entry(Env::Staging, &tag_in_staging),
        "needs digest",
    );
    let latest_in_dev =
        json!({"images": [{"name": "ghcr.io/greeter-gitops/greeter", "newTag": "latest"}]});
    assert_flags(
        security::image_entry(Env::Dev, &latest_in_dev),
        "needs a digest or newTag",
    );
    assert_flags(
        security::image_entry(Env::Dev, &json!({})),
        "needs exactly one images entry",
    );
}

// ---- availability ----

#[test]
fn probes_catch_a_missing_readiness_probe() {
    let objs = broken(Env::Dev, "StatefulSet", "redis", |s| {
        remove(s, "/spec/template/spec/containers/0/readinessProbe")
    });
    assert_flags(
        availability::probes(&objs),
        "container redis: missing readinessProbe",
    );
}

#[test]
fn greeter_probes_and_shutdown_catch_wrong_path_and_short_grace() {
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(
            r,
            "/spec/template/spec/containers/0/readinessProbe/httpGet/path",
        ) = json!("/healthz");
        *at(r, "/spec/template/spec/terminationGracePeriodSeconds") = json!(15);
    });
    let violations = availability::greeter_probes_and_shutdown(&objs);
    assert_flags(violations.clone(), "readinessProbe must GET /readyz");
    assert_flags(
        violations,
        "terminationGracePeriodSeconds 15 must exceed the shutdown budget 17 s",
    );
}

#[test]
fn resources_catch_a_missing_memory_limit() {
    let objs = broken(Env::Staging, "Rollout", "greeter", |r| {
        remove(r, "/spec/template/spec/containers/0/resources/limits")
    });
    assert_flags(
        availability::resources(&objs),
        "resources.limits.memory missing",
    );
}

#[test]
fn resources_catch_a_limit_below_the_request() {
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(
            r,
            "/spec/template/spec/containers/0/resources/limits/memory",
        ) = json!("100Mi");
    });
    assert_flags(
        availability::resources(&objs),
        "memory limit below its request",
    );
}

#[test]
fn resources_grow_catches_prod_smaller_than_staging() {
    let trees = [
        (Env::Staging, rendered(Env::Prod)),
        (Env::Prod, rendered(Env::Dev)),
    ];
    assert_flags(
        availability::resources_grow(&trees),
        "greeter requests shrink from staging",
    );
}

#[test]
fn quantities_parse_like_kubernetes() {
    use policy::objects::quantity;
    assert_eq!(quantity(&json!("250m")), Some(0.25));
    assert_eq!(quantity(&json!("128Mi")), Some(134_217_728.0));
    assert_eq!(quantity(&json!("1G")), Some(1e9));
    assert_eq!(quantity(&json!(2)), Some(2.0));
    assert_eq!(quantity(&json!("12parsecs")), None);
}

#[test]
fn autoscaling_catches_wrong_bounds_and_replicas_fighting_the_hpa() {
    let objs = broken(Env::Staging, "HorizontalPodAutoscaler", "greeter", |h| {
        *at(h, "/spec/maxReplicas") = json!(10)
    });
    assert_flags(
        availability::autoscaling(Env::Staging, &objs),
        "staging needs minReplicas 2 and maxReplicas 4",
    );
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(r, "/spec/replicas") = json!(5)
    });
    assert_flags(
        availability::autoscaling(Env::Prod, &objs),
        "spec.replicas 5 must equal the HPA's minReplicas 3",
    );
    let mut objs = rendered(Env::Dev).to_vec();
    objs.retain(|o| o["kind"] != "HorizontalPodAutoscaler");
    assert_flags(
        availability::autoscaling(Env::Dev, &objs),
        "expected exactly one HorizontalPodAutoscaler",
    );
}

#[test]
fn disruption_budgets_catch_missing_and_blocking_pdbs() {
    let mut objs = rendered(Env::Prod).to_vec();
    objs.retain(|o| o["kind"] != "PodDisruptionBudget");
    assert_flags(
        availability::disruption_budgets(&objs),
        "Rollout/greeter: no PodDisruptionBudget selects its pods",
    );
    let objs = broken(Env::Prod, "PodDisruptionBudget", "greeter", |p| {
        *at(p, "/spec/maxUnavailable") = json!(0)
    });
    assert_flags(
        availability::disruption_budgets(&objs),
        "blocks every voluntary eviction",
    );
}

#[test]
fn topology_catches_missing_zone_spread_in_prod_and_hard_spread_in_dev() {
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        at(r, "/spec/template/spec/topologySpreadConstraints")
            .as_array_mut()
            .expect("array")
            .truncate(1);
    });
    assert_flags(
        availability::topology(Env::Prod, &objs),
        "needs a hard (DoNotSchedule) spread across topology.kubernetes.io/zone",
    );
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        *at(
            r,
            "/spec/template/spec/topologySpreadConstraints/0/whenUnsatisfiable",
        ) = json!("DoNotSchedule");
        *at(
            r,
            "/spec/template/spec/topologySpreadConstraints/0/labelSelector/matchLabels",
        ) = json!({"app": "other"});
    });
    let violations = availability::topology(Env::Dev, &objs);
    assert_flags(
        violations.clone(),
        "dev must not use hard spread constraints",
    );
    assert_flags(violations, "does not select its own pods");
}

// ---- referential integrity ----

#[test]
fn service_selectors_catch_selectors_and_ports_matching_nothing() {
    let objs = broken(Env::Dev, "Service", "greeter-canary", |s| {
        *at(s, "/spec/selector") = json!({"app.kubernetes.io/name": "greter"})
    });
    assert_flags(
        integrity::service_selectors(&objs),
        "Service/greeter-canary: selector",
    );
    let objs = broken(Env::Dev, "Service", "greeter-stable", |s| {
        *at(s, "/spec/ports/0/targetPort") = json!("htp")
    });
    assert_flags(
        integrity::service_selectors(&objs),
        "targetPort \"htp\" does not exist on Rollout/greeter",
    );
}

#[test]
fn route_references_catch_missing_gateway_listener_service_and_port() {
    let objs = broken(Env::Prod, "HTTPRoute", "greeter", |r| {
        *at(r, "/spec/rules/0/backendRefs/1/name") = json!("greeter");
        *at(r, "/spec/parentRefs/0/sectionName") = json!("tls");
    });
    let violations = integrity::route_references(&objs);
    assert_flags(violations.clone(), "backend Service greeter does not exist");
    assert_flags(violations, "Gateway greeter has no listener tls");
    let objs = broken(Env::Prod, "HTTPRoute", "greeter", |r| {
        *at(r, "/spec/rules/0/backendRefs/0/port") = json!(8080);
        *at(r, "/spec/parentRefs/0/name") = json!("public");
    });
    let violations = integrity::route_references(&objs);
    assert_flags(
        violations.clone(),
        "backend Service greeter-stable has no port 8080",
    );
    assert_flags(violations, "Gateway public does not exist");
    let objs = broken(Env::Dev, "HTTPRoute", "greeter", |r| {
        at(r, "/spec/rules/0/backendRefs/1")["namespace"] = json!("greeter-prod");
        at(r, "/spec/parentRefs/0")["namespace"] = json!("nginx-gateway");
    });
    let violations = integrity::route_references(&objs);
    assert_flags(
        violations.clone(),
        "backendRef \"greeter-canary\" leaves the namespace",
    );
    assert_flags(violations, "is not a Gateway of this namespace");
}

#[test]
fn scale_targets_catch_dangling_hpa_and_pdb() {
    let objs = broken(Env::Dev, "HorizontalPodAutoscaler", "greeter", |h| {
        *at(h, "/spec/scaleTargetRef/kind") = json!("Deployment")
    });
    assert_flags(
        integrity::scale_targets(&objs),
        "Deployment/greeter does not exist",
    );
    let objs = broken(Env::Dev, "PodDisruptionBudget", "greeter", |p| {
        *at(p, "/spec/selector/matchLabels") = json!({"app.kubernetes.io/name": "greeterr"});
    });
    assert_flags(
        integrity::scale_targets(&objs),
        "PodDisruptionBudget/greeter: selector matches no workload's pods",
    );
}

#[test]
fn scale_targets_catch_wrong_api_version() {
    let objs = broken(Env::Dev, "HorizontalPodAutoscaler", "greeter", |h| {
        *at(h, "/spec/scaleTargetRef/apiVersion") = json!("apps/v1")
    });
    assert_flags(
        integrity::scale_targets(&objs),
        "Rollout/greeter does not exist",
    );
}

#[test]
fn rollout_references_catch_same_services_and_missing_route() {
    let plugin = "/spec/strategy/canary/trafficRouting/plugins/argoproj-labs~1gatewayAPI";
    let objs = broken(Env::Staging, "Rollout", "greeter", |r| {
        *at(r, "/spec/strategy/canary/canaryService") = json!("greeter-stable");
        *at(r, &format!("{plugin}/httpRoute")) = json!("greeter-public");
    });
    let violations = integrity::rollout_references(&objs);
    assert_flags(
        violations.clone(),
        "stableService and canaryService must differ",
    );
    assert_flags(
        violations,
        "HTTPRoute greeter-public (trafficRouting plugin argoproj-labs/gatewayAPI) does not exist",
    );
    // The plugin needs both Services in one rule to move the weights.
    let objs = broken(Env::Staging, "HTTPRoute", "greeter", |r| {
        at(r, "/spec/rules/0/backendRefs")
            .as_array_mut()
            .unwrap()
            .pop();
    });
    assert_flags(
        integrity::rollout_references(&objs),
        "HTTPRoute greeter has no rule with both greeter-stable and greeter-canary as backends",
    );
}

#[test]
fn rollout_references_catch_missing_template_and_args() {
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(r, "/spec/strategy/canary/analysis/templates/0/templateName") =
            json!("greeter-analysis")
    });
    assert_flags(
        integrity::rollout_references(&objs),
        "AnalysisTemplate \"greeter-analysis\" does not exist",
    );
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        let args = at(r, "/spec/strategy/canary/analysis/args")
            .as_array_mut()
            .expect("args");
        args.retain(|a| a["name"] != "canary-hash");
        args.push(json!({"name": "service", "value": "greeter"}));
    });
    let violations = integrity::rollout_references(&objs);
    assert_flags(violations.clone(), "needs arg \"canary-hash\"");
    assert_flags(violations, "supplies arg \"service\"");
}

#[test]
fn service_monitor_references_catch_unknown_port_and_selector() {
    let objs = broken(Env::Dev, "ServiceMonitor", "greeter", |s| {
        *at(s, "/spec/endpoints/0/port") = json!("http-metrics")
    });
    assert_flags(
        integrity::service_monitor_references(&objs),
        "port \"http-metrics\" does not exist on Service/greeter-metrics",
    );
    let objs = broken(Env::Dev, "ServiceMonitor", "greeter", |s| {
        *at(s, "/spec/selector/matchLabels") = json!({"app": "greeter"})
    });
    assert_flags(
        integrity::service_monitor_references(&objs),
        "selector matches no Service",
    );
}

#[test]
fn config_references_catch_unknown_config_map_and_secret_key() {
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        *at(
            r,
            "/spec/template/spec/containers/0/envFrom/0/configMapRef/name",
        ) = json!("greeter-config");
    });
    assert_flags(
        integrity::config_references(&objs),
        "ConfigMap \"greeter-config\" is neither rendered",
    );
    let objs = broken(Env::Staging, "StatefulSet", "redis", |s| {
        *at(
            s,
            "/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/key",
        ) = json!("REDIS_PASSWD");
    });
    assert_flags(
        integrity::config_references(&objs),
        "Secret greeter-secrets has no key \"REDIS_PASSWD\"",
    );
    let objs = broken(Env::Staging, "ExternalSecret", "greeter", |e| {
        *at(e, "/spec/target/name") = json!("greeter")
    });
    assert_flags(
        integrity::config_references(&objs),
        "Secret \"greeter-secrets\" is neither rendered nor created by an ExternalSecret",
    );
    // The greeter's secrets volume: a wrong Secret name, a key its items project that the Secret
    // does not have, and a mount of a volume the pod does not define.
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(r, "/spec/template/spec/volumes/0/secret/secretName") = json!("greeter-secret");
    });
    assert_flags(
        integrity::config_references(&objs),
        "Secret \"greeter-secret\" is neither rendered nor created by an ExternalSecret",
    );
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        at(r, "/spec/template/spec/volumes/0/secret")["items"] =
            json!([{"key": "JWT_SECRETS", "path": "JWT_SECRET"}]);
    });
    assert_flags(
        integrity::config_references(&objs),
        "Secret greeter-secrets has no key \"JWT_SECRETS\"",
    );
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        *at(r, "/spec/template/spec/containers/0/volumeMounts/0/name") = json!("secret");
    });
    assert_flags(
        integrity::config_references(&objs),
        "mounts volume \"secret\", which the pod does not define",
    );
}

// ---- canary ----

#[test]
fn canary_strategy_catches_missing_safety_settings() {
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(r, "/spec/strategy/canary/dynamicStableScale") = json!(true);
        remove(r, "/spec/rollbackWindow");
        remove(r, "/spec/strategy/canary/abortScaleDownDelaySeconds");
        *at(
            r,
            "/spec/strategy/canary/analysis/args/1/valueFrom/podTemplateHashValue",
        ) = json!("Stable");
    });
    let violations = canary::canary_strategy(&objs);
    for expected in [
        "dynamicStableScale",
        "rollbackWindow",
        "abortScaleDownDelaySeconds",
        "podTemplateHashValue: Latest",
    ] {
        assert_flags(violations.clone(), expected);
    }
}

#[test]
fn canary_strategy_catches_a_missing_gate_or_synthetic_traffic() {
    // A pause where the gate was: promote would skip it, and nothing would block a bad canary.
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        *at(r, "/spec/strategy/canary/steps/1") = json!({"pause": {"duration": "5m"}});
    });
    assert_flags(
        canary::canary_strategy(&objs),
        "the second step must be the gate",
    );
    // A gate with the background's count "0" never ends: it would block forever, not gate.
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        at(r, "/spec/strategy/canary/steps/1/analysis/args")
            .as_array_mut()
            .expect("gate args")
            .push(json!({"name": "measurements", "value": "0"}));
    });
    assert_flags(
        canary::canary_strategy(&objs),
        "the second step must be the gate",
    );
    // The real controller judged this one: with an indefinite default the Rollout is InvalidSpec
    // ("runs indefinitely"), even though the step passed a count.
    let objs = broken(
        Env::Dev,
        "AnalysisTemplate",
        "greeter-canary-analysis",
        |t| {
            let args = at(t, "/spec/args").as_array_mut().expect("args");
            let measurements = args
                .iter_mut()
                .find(|a| a["name"] == "measurements")
                .expect("a measurements arg");
            measurements["value"] = json!("0");
        },
    );
    assert_flags(
        canary::canary_strategy(&objs),
        "default measurements must be a count > 0",
    );
    // Without "0" the background run would stop after the gate's count, long before promotion.
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        at(r, "/spec/strategy/canary/analysis/args")
            .as_array_mut()
            .expect("background args")
            .retain(|a| a["name"] != "measurements");
    });
    assert_flags(
        canary::canary_strategy(&objs),
        "the background analysis must pass measurements \"0\"",
    );
    let objs = broken(Env::Staging, "Rollout", "greeter", |r| {
        at(r, "/spec/strategy/canary/analysis/templates")
            .as_array_mut()
            .expect("templates")
            .retain(|t| t["templateName"] != "greeter-synthetic-traffic");
        *at(r, "/spec/strategy/canary/analysis/startingStep") = json!(2);
    });
    let violations = canary::canary_strategy(&objs);
    assert_flags(
        violations.clone(),
        "must use greeter-canary-analysis and greeter-synthetic-traffic",
    );
    assert_flags(violations, "startingStep <= 1");
}

#[test]
fn canary_analysis_catches_a_success_rate_blind_to_total_failure() {
    // Audit D2: without the fallback a canary answering only 5xx has no numerator series.
    let objs = broken(
        Env::Prod,
        "AnalysisTemplate",
        "greeter-canary-analysis",
        |t| {
            let query = at(t, "/spec/metrics/0/provider/prometheus/query");
            *query = json!(query
                .as_str()
                .expect("query")
                .replace("or on() vector(0)", ""));
        },
    );
    assert_flags(
        canary::canary_analysis(&objs),
        "numerator needs `or on() vector(0)`",
    );
}

#[test]
fn rollout_references_catch_two_defaults_for_one_arg() {
    // Argo Rollouts refuses to create the run (flattenArgs): the canary would never be analysed.
    let objs = broken(
        Env::Prod,
        "AnalysisTemplate",
        "greeter-synthetic-traffic",
        |t| {
            at(t, "/spec/args")
                .as_array_mut()
                .expect("args")
                .push(json!({"name": "inconclusive-limit", "value": "9"}));
        },
    );
    assert_flags(
        integrity::rollout_references(&objs),
        "arg \"inconclusive-limit\" has two defaults",
    );
}

#[test]
fn canary_strategy_catches_a_wrong_traffic_router() {
    let routing = "/spec/strategy/canary/trafficRouting";
    let objs = broken(Env::Staging, "Rollout", "greeter", |r| {
        let routing = at(r, routing);
        routing["plugins"]["argoproj-labs/gatewayAPI"]["namespace"] = json!("greeter-prod");
        routing["nginx"] = json!({"stableIngress": "greeter"});
    });
    let violations = canary::canary_strategy(&objs);
    assert_flags(
        violations.clone(),
        "the plugin's namespace must be the Rollout's own",
    );
    assert_flags(
        violations,
        "argoproj-labs/gatewayAPI must be the only traffic router",
    );
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        *at(r, routing) = json!({"nginx": {"stableIngress": "greeter"}});
    });
    assert_flags(
        canary::canary_strategy(&objs),
        "needs trafficRouting.plugins.argoproj-labs/gatewayAPI.httpRoute: greeter",
    );
}

#[test]
fn canary_route_catches_weights_that_do_not_rest_on_stable() {
    // An unset weight is 1: half the traffic would go to the canary Service at rest.
    let objs = broken(Env::Prod, "HTTPRoute", "greeter", |r| {
        remove(r, "/spec/rules/0/backendRefs/1/weight");
    });
    assert_flags(
        canary::canary_route(&objs),
        "must rest at greeter-stable weight 100 and greeter-canary weight 0",
    );
    let objs = broken(Env::Prod, "HTTPRoute", "greeter", |r| {
        *at(r, "/spec/rules/0/backendRefs/0/weight") = json!(0);
        *at(r, "/spec/rules/0/backendRefs/1/weight") = json!(100);
    });
    assert_flags(
        canary::canary_route(&objs),
        "got [(\"greeter-stable\", Number(0))",
    );
}

#[test]
fn canary_analysis_catches_unguarded_conditions_and_unscoped_queries() {
    let objs = broken(
        Env::Dev,
        "AnalysisTemplate",
        "greeter-canary-analysis",
        |t| {
            *at(t, "/spec/metrics/0/successCondition") = json!("result[0] >= 0.99");
            let query = at(t, "/spec/metrics/1/provider/prometheus/query");
            *query = json!(query.as_str().expect("query").replacen(
                "rollouts_pod_template_hash=\"{{args.canary-hash}}\"",
                "",
                1
            ));
            remove(t, "/spec/metrics/1/inconclusiveLimit");
        },
    );
    let violations = canary::canary_analysis(&objs);
    assert_flags(
        violations.clone(),
        "successCondition must hold only for a real value",
    );
    assert_flags(
        violations.clone(),
        "every series selector must carry rollouts_pod_template_hash",
    );
    assert_flags(violations, "inconclusiveLimit must be set");
}

#[test]
fn canary_analysis_catches_a_missing_traffic_floor() {
    let objs = broken(
        Env::Staging,
        "AnalysisTemplate",
        "greeter-canary-analysis",
        |t| {
            let query = at(t, "/spec/metrics/0/provider/prometheus/query");
            let text = query.as_str().expect("query").to_string();
            *query = json!(text[..text.find("and on()").expect("guarded query")].to_string());
        },
    );
    assert_flags(
        canary::canary_analysis(&objs),
        "metric success-rate: query needs a minimum-traffic guard",
    );
}

#[test]
fn canary_analysis_requires_success_rate_and_latency() {
    let objs = broken(
        Env::Dev,
        "AnalysisTemplate",
        "greeter-canary-analysis",
        |t| {
            at(t, "/spec/metrics")
                .as_array_mut()
                .expect("metrics")
                .truncate(1);
        },
    );
    assert_flags(canary::canary_analysis(&objs), "needs a p95 latency query");
}

#[test]
fn analysis_promql_catches_a_query_that_does_not_parse() {
    let objs = broken(
        Env::Prod,
        "AnalysisTemplate",
        "greeter-canary-analysis",
        |t| {
            let query = at(t, "/spec/metrics/1/provider/prometheus/query");
            *query = json!(query
                .as_str()
                .expect("query")
                .replacen("sum by (le)", "sum by (le", 1));
        },
    );
    assert_flags(
        canary::analysis_promql(&objs),
        "analysis queries are not valid PromQL",
    );
}

#[test]
fn monitoring_hooks_catch_missing_pod_template_hash_label() {
    let objs = broken(Env::Prod, "ServiceMonitor", "greeter", |s| {
        remove(s, "/spec/podTargetLabels")
    });
    assert_flags(
        canary::monitoring_hooks(&objs),
        "podTargetLabels [rollouts-pod-template-hash]",
    );
}

#[test]
fn services_contract_catches_renamed_ports() {
    let objs = broken(Env::Dev, "Service", "greeter-canary", |s| {
        *at(s, "/spec/ports/0/targetPort") = json!(8080);
        *at(s, "/spec/ports/1/name") = json!("prometheus");
    });
    let violations = canary::services_contract(&objs);
    assert_flags(
        violations.clone(),
        "Service/greeter-canary: needs port http with targetPort http",
    );
    assert_flags(violations, "Service/greeter-canary: needs port metrics");
}

#[test]
fn steps_grow_cautious_catches_staging_less_careful_than_dev() {
    let trees = [
        (Env::Dev, rendered(Env::Staging)),
        (Env::Staging, rendered(Env::Dev)),
        (Env::Prod, rendered(Env::Prod)),
    ];
    assert_flags(canary::steps_grow_cautious(&trees), "from dev to staging");
}

// ---- config, secrets, redis, ingress ----

#[test]
fn config_and_secrets_catch_wrong_store_keys_and_secret_in_config_map() {
    let mut objs = broken(Env::Dev, "ExternalSecret", "greeter", |e| {
        *at(e, "/spec/secretStoreRef/name") = json!("vault");
        *at(e, "/spec/dataFrom/0/extract/key") = json!("greeter/prod");
        remove(e, "/spec/target/template/data/JWT_SECRET");
    });
    let cm = objs
        .iter_mut()
        .find(|o| config::config_map(std::slice::from_ref(o)).is_some())
        .expect("generated ConfigMap");
    *at(cm, "/data/APP_ENV") = json!("prod");
    at(cm, "/data")
        .as_object_mut()
        .expect("data")
        .insert("JWT_SECRET".into(), json!("x"));
    let violations = config::config_and_secrets(Env::Dev, &objs);
    for expected in [
        "ClusterSecretStore fake-dev",
        "remote keys must all be greeter/dev",
        "does not declare key JWT_SECRET",
        "APP_ENV must be dev",
        "secret JWT_SECRET must not be in a ConfigMap",
    ] {
        assert_flags(violations.clone(), expected);
    }
}

#[test]
fn config_and_secrets_catch_secrets_that_would_not_rotate() {
    // The way it was: envFrom, fixed at container start.
    let objs = broken(Env::Staging, "Rollout", "greeter", |r| {
        at(r, "/spec/template/spec/containers/0/envFrom")
            .as_array_mut()
            .expect("envFrom")
            .push(json!({"secretRef": {"name": "greeter-secrets"}}));
    });
    assert_flags(
        config::config_and_secrets(Env::Staging, &objs),
        "must not reach greeter as environment variables",
    );
    let objs = broken(Env::Prod, "Rollout", "greeter", |r| {
        let mount = at(r, "/spec/template/spec/containers/0/volumeMounts/0");
        mount["subPath"] = json!("DUMMY_API_KEY");
        mount["mountPath"] = json!("/etc/greeter/secret");
    });
    let violations = config::config_and_secrets(Env::Prod, &objs);
    assert_flags(violations.clone(), "mounted readOnly, without subPath");
    assert_flags(
        violations,
        "SECRETS_DIR (/etc/greeter/secrets) must be where",
    );
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        at(r, "/spec/template/spec/volumes/0/secret")["items"] =
            json!([{"key": "DUMMY_API_KEY", "path": "api-key"}]);
    });
    assert_flags(
        config::config_and_secrets(Env::Dev, &objs),
        "must project DUMMY_API_KEY as the file DUMMY_API_KEY",
    );
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        remove(r, "/spec/template/spec/containers/0/volumeMounts");
    });
    assert_flags(
        config::config_and_secrets(Env::Dev, &objs),
        "greeter does not mount the volume of Secret greeter-secrets",
    );
    let objs = broken(Env::Dev, "Rollout", "greeter", |r| {
        remove(r, "/spec/template/spec/volumes");
    });
    assert_flags(
        config::config_and_secrets(Env::Dev, &objs),
        "no volume of Secret greeter-secrets",
    );
}

#[test]
fn redis_catches_missing_persistence_and_plaintext_prod() {
    let objs = broken(Env::Staging, "StatefulSet", "redis", |s| {
        let command = at(s, "/spec/template/spec/containers/0/command/2");
        *command = json!(command
            .as_str()
            .expect("command")
            .replace("--appendonly yes", "--appendonly no"));
        remove(s, "/spec/volumeClaimTemplates");
    });
    let violations = config::redis(Env::Staging, &objs);
    assert_flags(violations.clone(), "--appendonly yes");
    assert_flags(violations, "needs a volumeClaimTemplate");
    let mut objs = rendered(Env::Prod).to_vec();
    let cm = objs
        .iter_mut()
        .find(|o| config::config_map(std::slice::from_ref(o)).is_some())
        .expect("generated ConfigMap");
    *at(cm, "/data/REDIS_TLS") = json!("false");
    assert_flags(config::redis(Env::Prod, &objs), "managed Redis over TLS");
    let dev_tree_as_prod = config::redis(Env::Prod, rendered(Env::Dev));
    assert_flags(dev_tree_as_prod, "prod uses managed Redis");
}

#[test]
fn gateway_catches_wrong_issuer_host_listeners_and_plain_http_backends() {
    let objs = broken(Env::Prod, "Gateway", "greeter", |g| {
        *at(g, "/metadata/annotations/cert-manager.io~1cluster-issuer") =
            json!("letsencrypt-staging");
        *at(g, "/spec/listeners/1/hostname") = json!("greeter.staging.example.com");
        *at(g, "/spec/listeners/1/tls/certificateRefs/0/name") = json!("wildcard-tls");
        *at(g, "/spec/listeners/0/allowedRoutes/namespaces/from") = json!("All");
    });
    let violations = config::gateway(Env::Prod, &objs);
    assert_flags(
        violations.clone(),
        "cert-manager.io/cluster-issuer must be letsencrypt-prod",
    );
    assert_flags(
        violations.clone(),
        "listener \"https\": hostname must be greeter.example.com",
    );
    assert_flags(
        violations.clone(),
        "must terminate TLS with Secret greeter-tls of this namespace",
    );
    assert_flags(violations, "only routes of this namespace may attach");
    assert_flags(
        config::gateway(Env::Staging, rendered(Env::Dev)),
        "hostname must be greeter.staging.example.com",
    );
    let objs = broken(Env::Dev, "Gateway", "greeter", |g| {
        at(g, "/spec/listeners").as_array_mut().unwrap().remove(0);
    });
    assert_flags(
        config::gateway(Env::Dev, &objs),
        "listeners must be http (HTTP, 80) and https (HTTPS, 443)",
    );
    // The canary route attached to plain HTTP too (no sectionName): served without TLS.
    let objs = broken(Env::Dev, "HTTPRoute", "greeter", |r| {
        remove(r, "/spec/parentRefs/0/sectionName")
    });
    assert_flags(
        config::gateway(Env::Dev, &objs),
        "HTTPRoute/greeter: attached to plain HTTP (no sectionName https), so it must only redirect to https",
    );
}

// ---- network ----

#[test]
fn default_deny_catches_a_missing_or_partial_policy() {
    let mut objs = rendered(Env::Dev).to_vec();
    objs.retain(|o| !(o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "default-deny"));
    assert_flags(
        network::default_deny(&objs),
        "no default-deny NetworkPolicy",
    );
    let objs = broken(Env::Dev, "NetworkPolicy", "default-deny", |n| {
        *at(n, "/spec/policyTypes") = json!(["Ingress"])
    });
    assert_flags(
        network::default_deny(&objs),
        "no default-deny NetworkPolicy",
    );
}

/// A copy of the environment's tree without these NetworkPolicies.
fn without_policies(env: Env, names: &[&str]) -> Vec<Value> {
    let mut objs = rendered(env).to_vec();
    let before = objs.len();
    objs.retain(|o| {
        !(o["kind"] == "NetworkPolicy"
            && names.contains(&o["metadata"]["name"].as_str().unwrap_or("")))
    });
    assert_eq!(
        before - objs.len(),
        names.len(),
        "{names:?} not all rendered in {env:?}"
    );
    objs
}

#[test]
fn exact_flows_catch_the_unreachable_acme_solver() {
    for env in Env::ALL {
        let objs = without_policies(env, &["acme-http01-solver-allow-edge"]);
        assert_flags(
            network::exact_flows(env, &objs),
            "gateway -> ACME solver 8089/TCP must be admitted",
        );
        let objs = without_policies(env, &["gateway-allow-upstreams"]);
        assert_flags(
            network::exact_flows(env, &objs),
            "gateway -> ACME solver 8089/TCP must be admitted",
        );
    }
}

#[test]
fn exact_flows_catch_every_missing_flow() {
    for (env, policy, expected) in [
        (
            Env::Dev,
            "greeter-allow-edge",
            "gateway -> greeter 8080/TCP",
        ),
        (
            Env::Dev,
            "gateway-allow-upstreams",
            "gateway -> greeter 8080/TCP",
        ),
        (
            Env::Dev,
            "gateway-allow-clients",
            "anyone -> gateway 443/TCP",
        ),
        (
            Env::Staging,
            "gateway-allow-clients",
            "anyone -> gateway 80/TCP",
        ),
        (
            Env::Dev,
            "gateway-allow-control-plane",
            "gateway -> NGF control plane 8443/TCP",
        ),
        (
            Env::Dev,
            "gateway-allow-control-plane",
            "gateway -> DNS 53/UDP",
        ),
        (
            Env::Prod,
            "gateway-allow-prometheus",
            "Prometheus -> gateway 9113/TCP",
        ),
        (
            Env::Dev,
            "greeter-allow-prometheus",
            "Prometheus -> greeter 9464/TCP",
        ),
        (Env::Dev, "greeter-allow-dns", "greeter -> DNS 53/UDP"),
        (Env::Dev, "greeter-allow-dns", "greeter -> DNS 53/TCP"),
        (
            Env::Dev,
            "greeter-allow-otlp",
            "greeter -> OTLP collector 4318/TCP",
        ),
        // In-cluster Redis needs both ends: greeter's egress and Redis' ingress.
        (
            Env::Staging,
            "greeter-allow-redis",
            "greeter -> redis 6379/TCP",
        ),
        (
            Env::Staging,
            "redis-allow-greeter",
            "greeter -> redis 6379/TCP",
        ),
        (
            Env::Prod,
            "greeter-allow-managed-redis",
            "greeter -> managed Redis 6380/TCP",
        ),
    ] {
        assert_flags(
            network::exact_flows(env, &without_policies(env, &[policy])),
            &format!("{expected} must be admitted"),
        );
    }
}

#[test]
fn exact_flows_catch_a_public_edge_open_only_to_some() {
    // Listeners open to the internet but not to pods (an ipBlock): cert-manager's self-check
    // from inside the cluster would be refused.
    let objs = broken(Env::Dev, "NetworkPolicy", "gateway-allow-clients", |n| {
        at(n, "/spec/ingress/0")["from"] = json!([{"ipBlock": {"cidr": "0.0.0.0/0"}}]);
    });
    assert_flags(
        network::exact_flows(Env::Dev, &objs),
        "anyone -> gateway 80/TCP must be admitted (the ingress of gateway refuses greeter, ACME solver",
    );
}

#[test]
fn exact_flows_catch_an_allow_rule_nobody_listed() {
    // Grafana is no probe: only the rule-by-rule check can see it.
    let mut objs = rendered(Env::Dev).to_vec();
    objs.push(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "greeter-allow-grafana", "namespace": "greeter-dev"},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "greeter"}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "grafana"}}
                }],
                "ports": [{"port": "http"}]
            }]
        }
    }));
    assert_flags(
        network::exact_flows(Env::Dev, &objs),
        "NetworkPolicy/greeter-allow-grafana: ingress rule 0 admits none of the listed connections",
    );
    // The same end hidden in an In list next to the listed one.
    let objs = broken(Env::Dev, "NetworkPolicy", "greeter-allow-edge", |n| {
        *at(n, "/spec/ingress/0/from/0/podSelector") = json!({"matchExpressions": [{
            "key": "gateway.networking.k8s.io/gateway-name", "operator": "In", "values": ["greeter", "admin"]
        }]});
    });
    assert_flags(
        network::exact_flows(Env::Dev, &objs),
        "NetworkPolicy/greeter-allow-edge: ingress rule 0 admits none of the listed connections with from",
    );
    // Rules for a direction the policy does not govern are ignored by the API.
    let objs = broken(Env::Dev, "NetworkPolicy", "greeter-allow-prometheus", |n| {
        n["spec"]["egress"] = json!([{"ports": [{"port": 443}]}]);
    });
    assert_flags(
        network::exact_flows(Env::Dev, &objs),
        "NetworkPolicy/greeter-allow-prometheus: its egress rules are ignored",
    );
}

#[test]
fn exact_flows_catch_allows_wider_than_listed() {
    for (env, policy, change, expected) in [
        (
            Env::Dev,
            "greeter-allow-otlp",
            (|n: &mut Value| remove(n, "/spec/egress/0/to/0/podSelector")) as fn(&mut Value),
            "greeter -> another pod in observability is admitted by the egress of greeter but not listed (4318/TCP)",
        ),
        (
            Env::Dev,
            "greeter-allow-edge",
            |n| at(n, "/spec/ingress/0/ports").as_array_mut().unwrap().push(json!({"port": 9999})),
            "gateway -> greeter is admitted by the ingress of greeter but not listed (9999/TCP)",
        ),
        // The public edge is open to anyone on its listeners only.
        (
            Env::Dev,
            "gateway-allow-clients",
            |n| remove(n, "/spec/ingress/0/ports"),
            "an internet address (93.184.216.34/32) -> gateway is admitted by the ingress of gateway but not listed (1/TCP, 1/UDP, 1/SCTP",
        ),
        // The edge reaching greeter's metrics (or any other port) besides `http`.
        (
            Env::Staging,
            "gateway-allow-upstreams",
            |n| remove(n, "/spec/egress/0/ports"),
            "gateway -> greeter is admitted by the egress of gateway but not listed (1/TCP, 1/UDP, 1/SCTP",
        ),
        (
            Env::Prod,
            "gateway-allow-control-plane",
            |n| remove(n, "/spec/egress/0/to/0/podSelector"),
            "gateway -> another pod in nginx-gateway is admitted by the egress of gateway but not listed (8443/TCP)",
        ),
        (
            Env::Dev,
            "greeter-allow-dns",
            |n| *at(n, "/spec/podSelector") = json!({}),
            "redis -> DNS is admitted by the egress of redis but not listed (53/TCP, 53/UDP)",
        ),
        (
            Env::Staging,
            "redis-allow-greeter",
            |n| remove(n, "/spec/ingress/0/from/0/podSelector"),
            "another pod in greeter-staging -> redis is admitted by the ingress of redis but not listed (6379/TCP)",
        ),
        (
            Env::Staging,
            "acme-http01-solver-allow-edge",
            |n| remove(n, "/spec/ingress/0/from"),
            "a pod in another namespace -> ACME solver is admitted by the ingress of ACME solver but not listed (8089/TCP)",
        ),
        (
            Env::Prod,
            "greeter-allow-managed-redis",
            |n| *at(n, "/spec/egress/0/to/0/ipBlock/cidr") = json!("10.0.0.0/7"),
            "greeter -> 11.0.0.0/32 (next to a listed network) is admitted by the egress of greeter but not listed (6380/TCP)",
        ),
        (
            Env::Prod,
            "greeter-allow-managed-redis",
            |n| {
                *at(n, "/spec/egress/0/to/0/ipBlock/cidr") = json!("0.0.0.0/0");
                remove(n, "/spec/egress/0/ports");
            },
            "greeter -> an internet address (93.184.216.34/32) is admitted by the egress of greeter",
        ),
    ] {
        assert_flags(
            network::exact_flows(env, &broken(env, "NetworkPolicy", policy, change)),
            expected,
        );
    }
    // Without the default deny, pods that no allow policy isolates for a direction are open.
    assert_flags(
        network::exact_flows(
            Env::Staging,
            &without_policies(Env::Staging, &["default-deny"]),
        ),
        "ACME solver -> an internet address (93.184.216.34/32) is admitted by the egress of ACME solver",
    );
}

#[test]
fn network_policies_are_evaluated_like_the_api() {
    use policy::network_policy::{admits, Endpoint, Pod};
    let web = Pod::new("app", &[("role", "web")]).with_ports(&[("http", 8080, "TCP")]);
    let client = Endpoint::Pod(Pod::new("app", &[("role", "client")]));
    let policy = |spec: Value| {
        vec![
            json!({"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "app"}, "spec": spec}),
        ]
    };
    let to_web = |policies: &[Value], port: i64| {
        admits(policies, &client, &Endpoint::Pod(web.clone()), port, "TCP")
    };
    // No policy selects the pod: everything is admitted.
    assert!(to_web(&[], 1));
    // Unset policyTypes with an empty egress list governs ingress only (API defaulting).
    let ingress_only = policy(json!({"podSelector": {}, "egress": []}));
    assert!(!to_web(&ingress_only, 8080));
    assert!(admits(
        &ingress_only,
        &Endpoint::Pod(web.clone()),
        &Endpoint::address([1, 1, 1, 1]),
        443,
        "TCP"
    ));
    // Named ports resolve on the destination pod; endPort makes a range.
    let named = policy(json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}));
    assert!(to_web(&named, 8080) && !to_web(&named, 8081));
    let range = policy(
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 8100}]}]}),
    );
    assert!(to_web(&range, 8080) && !to_web(&range, 8101));
    // An ipBlock exception removes part of the block; a network is admitted only as a whole.
    let egress = policy(
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
        ]}]}),
    );
    let from_web = |to: Endpoint| admits(&egress, &Endpoint::Pod(web.clone()), &to, 6380, "TCP");
    assert!(from_web(Endpoint::address([10, 2, 0, 1])));
    assert!(!from_web(Endpoint::address([10, 1, 0, 1])));
    assert!(!from_web(Endpoint::network("10.0.0.0/8")));
    assert!(from_web(Endpoint::network("10.2.0.0/16")));
}

// ---- scripts/validate on broken fixtures ----

/// Runs scripts/validate on one fixture kustomization; returns (success, combined output).
fn validate_fixture(fixture: &str) -> (bool, String) {
    run_validate(
        &repo_root()
            .join("policy/tests/fixtures/deploy")
            .join(fixture),
    )
}

#[test]
fn validate_fails_on_a_kind_without_schema() {
    let (ok, text) = validate_fixture("validate-unknown-kind");
    assert!(
        !ok && text.contains("no schema for") && text.contains("Widget/widget"),
        "{text}"
    );
}

#[test]
fn validate_fails_on_an_unknown_field_in_a_builtin_kind() {
    let (ok, text) = validate_fixture("validate-builtin-typo");
    assert!(!ok && text.contains("'selectr' was unexpected"), "{text}");
}

#[test]
fn validate_fails_on_an_unknown_field_in_a_custom_resource() {
    let (ok, text) = validate_fixture("validate-crd-typo");
    assert!(!ok && text.contains("'intervall' was unexpected"), "{text}");
}

#[test]
fn validate_fails_on_a_root_that_does_not_render() {
    let (ok, text) = validate_fixture("validate-render-error");
    assert!(
        !ok && text.contains("does not render") && text.contains("rollout.yaml"),
        "{text}"
    );
}
