//! The canary: Rollout strategy, the Prometheus analysis gating it, the metrics it reads, and
//! the schedule growing more cautious from dev to prod.

use super::integrity::canary_rule;
use super::{
    Env, ANALYSIS_TEMPLATE, CANARY_SERVICE, GATEWAY_API_PLUGIN, ROLLOUT, ROUTE, STABLE_SERVICE,
    SYNTHETIC_TRAFFIC_TEMPLATE,
};
use crate::objects::{find, id, of_kind};
use serde_json::{json, Value};
use std::process::Command;

/// The greeter Rollout is a traffic-routed canary (HTTPRoute greeter through the Gateway API
/// plugin, in the Rollout's own namespace, the only traffic router) with background analysis on
/// the canary's pod template hash, a fully scaled stable ReplicaSet, an abort scale-down delay and
/// a rollback window.
pub fn canary_strategy(objs: &[Value]) -> Vec<String> {
    let Some(r) = find(objs, "Rollout", ROLLOUT) else {
        return vec![format!("Rollout/{ROLLOUT} is not rendered")];
    };
    let canary = &r["spec"]["strategy"]["canary"];
    let mut v = Vec::new();
    let mut require = |ok: bool, what: &str| {
        if !ok {
            v.push(format!("Rollout/{ROLLOUT}: {what}"));
        }
    };
    require(canary.is_object(), "strategy must be canary");
    let routing = &canary["trafficRouting"];
    let plugin = &routing["plugins"][GATEWAY_API_PLUGIN];
    require(
        plugin["httpRoute"] == ROUTE,
        &format!("needs trafficRouting.plugins.{GATEWAY_API_PLUGIN}.httpRoute: {ROUTE}"),
    );
    // The plugin defaults the route's namespace to the Rollout's; another one would move the
    // weights of some other environment's route.
    require(
        plugin["namespace"].is_null() || plugin["namespace"] == r["metadata"]["namespace"],
        "the plugin's namespace must be the Rollout's own (or unset)",
    );
    require(
        routing.as_object().is_some_and(|m| m.len() == 1)
            && routing["plugins"].as_object().is_some_and(|m| m.len() == 1),
        &format!("{GATEWAY_API_PLUGIN} must be the only traffic router"),
    );
    // ADR 0002: with dynamicStableScale an abort waits for stable pods to come back, step by
    // step, before traffic leaves the canary (argo-rollouts v1.9.0 rollout/trafficrouting.go
    // calculateDesiredWeightOnAbortOrStableRollback); a prod game day saw 50 % stay on it.
    require(
        canary["dynamicStableScale"] != true,
        "must not set dynamicStableScale: an abort would leave traffic on the canary until stable pods return (ADR 0002)",
    );
    require(
        canary["abortScaleDownDelaySeconds"]
            .as_i64()
            .is_some_and(|s| s > 0),
        "needs abortScaleDownDelaySeconds > 0",
    );
    require(
        r["spec"]["rollbackWindow"]["revisions"]
            .as_i64()
            .is_some_and(|n| n > 0),
        "needs rollbackWindow.revisions > 0",
    );
    let analysis = &canary["analysis"];
    let uses = |analysis: &Value, template: &str| {
        analysis["templates"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["templateName"] == template)
    };
    require(
        uses(analysis, ANALYSIS_TEMPLATE) && uses(analysis, SYNTHETIC_TRAFFIC_TEMPLATE),
        &format!(
            "background analysis must use {ANALYSIS_TEMPLATE} and {SYNTHETIC_TRAFFIC_TEMPLATE}"
        ),
    );
    let arg = |analysis: &Value, n: &str| {
        analysis["args"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == n)
            .cloned()
            .unwrap_or_default()
    };
    require(
        arg(analysis, "canary-hash").pointer("/valueFrom/podTemplateHashValue")
            == Some(&"Latest".into()),
        "arg canary-hash must come from podTemplateHashValue: Latest",
    );
    require(
        !arg(analysis, "namespace").is_null(),
        "must pass arg namespace",
    );
    // The gate: the first step sets a weight, the second analyses the canary at that weight and
    // blocks until its measurements are in (a count, not the background's "0" = forever), and the
    // background run (with the synthetic traffic) has started by then.
    let steps = canary["steps"].as_array().cloned().unwrap_or_default();
    require(
        steps.first().is_some_and(|s| s["setWeight"].is_number()),
        "the first step must set a weight",
    );
    let gate = steps.get(1).map(|s| &s["analysis"]).unwrap_or(&Value::Null);
    let count = |arg: &Value| arg["value"].as_str().and_then(|n| n.parse::<u32>().ok());
    // Argo Rollouts validates a step's templates with the templates' own default args, not the
    // step's (v1.9.0 validation_references.go ValidateAnalysisTemplateWithType): a default of "0"
    // (indefinitely) makes the Rollout InvalidSpec whatever the step passes. So the gate's count
    // is the template's default, and only the background run passes "0".
    let template_default = find(objs, "AnalysisTemplate", ANALYSIS_TEMPLATE)
        .map(|t| {
            t["spec"]["args"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["name"] == "measurements")
                .and_then(count)
        })
        .unwrap_or_default();
    require(
        template_default.is_some_and(|n| n > 0),
        &format!("{ANALYSIS_TEMPLATE}'s default measurements must be a count > 0: the controller validates step analyses with the template's defaults and rejects a metric that runs indefinitely"),
    );
    require(
        count(&arg(analysis, "measurements")) == Some(0),
        "the background analysis must pass measurements \"0\" (it watches until promotion)",
    );
    let measurements = count(&arg(gate, "measurements")).or(template_default);
    require(
        uses(gate, ANALYSIS_TEMPLATE)
            && measurements.is_some_and(|n| n > 0)
            && arg(gate, "canary-hash").pointer("/valueFrom/podTemplateHashValue")
                == Some(&"Latest".into()),
        &format!("the second step must be the gate: an analysis with {ANALYSIS_TEMPLATE}, a measurements count > 0 and the canary's hash"),
    );
    require(
        analysis["startingStep"].as_i64().is_some_and(|s| s <= 1),
        "the background analysis must start by the gate step (startingStep <= 1), or the gate runs without synthetic traffic",
    );
    v
}

/// The canary route rests at stable 100, canary 0 in git: that is what the plugin restores after
/// a promotion or an abort, and what Argo CD creates the route with (it ignores the weights
/// afterwards). An unset weight is 1 (Gateway API), which would send half the traffic to the
/// canary Service.
pub fn canary_route(objs: &[Value]) -> Vec<String> {
    let Some(route) = find(objs, "HTTPRoute", ROUTE) else {
        return vec![format!("HTTPRoute/{ROUTE} is not rendered")];
    };
    let Some(rule) = canary_rule(route, STABLE_SERVICE, CANARY_SERVICE) else {
        return vec![format!(
            "{}: no rule with {STABLE_SERVICE} and {CANARY_SERVICE} as backends",
            id(route)
        )];
    };
    let weights: Vec<(&str, &Value)> = rule["backendRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| (b["name"].as_str().unwrap_or(""), &b["weight"]))
        .collect();
    if weights != [(STABLE_SERVICE, &json!(100)), (CANARY_SERVICE, &json!(0))] {
        return vec![format!(
            "{}: the canary rule must rest at {STABLE_SERVICE} weight 100 and {CANARY_SERVICE} weight 0 (explicit), got {weights:?}",
            id(route)
        )];
    }
    Vec::new()
}

/// greeter-canary-analysis: Prometheus queries scoped to the canary's pods and namespace, one on
/// the success rate and one on p95 latency; every metric has an initial delay and a failure
/// limit, and both conditions require a real number so that no data / too little traffic is
/// Inconclusive, never a pass and never an evaluation error (argo-rollouts#1466).
pub fn canary_analysis(objs: &[Value]) -> Vec<String> {
    let Some(t) = find(objs, "AnalysisTemplate", ANALYSIS_TEMPLATE) else {
        return vec![format!(
            "AnalysisTemplate/{ANALYSIS_TEMPLATE} is not rendered"
        )];
    };
    let mut v = Vec::new();
    let metrics = t["spec"]["metrics"].as_array().cloned().unwrap_or_default();
    let queries: Vec<&str> = metrics
        .iter()
        .filter_map(|m| {
            m.pointer("/provider/prometheus/query")
                .and_then(Value::as_str)
        })
        .collect();
    if !queries
        .iter()
        .any(|q| q.contains("greeter_http_requests_total") && q.contains("status!~\"5..\""))
    {
        v.push(format!(
            "{}: needs a success-rate query (non-5xx over all requests)",
            id(t)
        ));
    }
    // A canary failing every request has no non-5xx series: without a fallback the ratio is an
    // empty vector (Inconclusive, a pause) instead of 0 (Failed, an abort). Audit D2.
    if !queries
        .iter()
        .any(|q| q.contains("status!~\"5..\"") && q.contains("or on() vector(0)"))
    {
        v.push(format!(
            "{}: the success rate's numerator needs `or on() vector(0)` (a canary failing every request must measure 0, not nothing)",
            id(t)
        ));
    }
    if !queries.iter().any(|q| {
        q.contains("histogram_quantile(0.95")
            && q.contains("greeter_http_requests_duration_seconds_bucket")
    }) {
        v.push(format!("{}: needs a p95 latency query", id(t)));
    }
    for m in &metrics {
        let mid = format!("{} metric {}", id(t), m["name"].as_str().unwrap_or("?"));
        let Some(query) = m
            .pointer("/provider/prometheus/query")
            .and_then(Value::as_str)
        else {
            v.push(format!("{mid}: must use the Prometheus provider"));
            continue;
        };
        for scope in [
            "rollouts_pod_template_hash=\"{{args.canary-hash}}\"",
            "namespace=\"{{args.namespace}}\"",
        ] {
            // Every selector in the query must be scoped, or stable pods leak into the verdict.
            if selector_count(query) != query.matches(scope).count() {
                v.push(format!("{mid}: every series selector must carry {scope}"));
            }
        }
        // `<ratio> and on() sum(increase(...)) >= N`: too little traffic yields no result at all.
        if !(query.contains("and on()") && query.contains("increase(") && query.contains(">=")) {
            v.push(format!(
                "{mid}: query needs a minimum-traffic guard (... and on() sum(increase(...)) >= N)"
            ));
        }
        for condition in ["successCondition", "failureCondition"] {
            let c = m[condition].as_str().unwrap_or("");
            if !(c.contains("len(result) > 0") && c.contains("!isNaN(result[0])")) {
                v.push(format!("{mid}: {condition} must hold only for a real value (len(result) > 0 && !isNaN(result[0]) && ...)"));
            }
        }
        for field in [
            "initialDelay",
            "interval",
            "failureLimit",
            "inconclusiveLimit",
        ] {
            if m[field].is_null() {
                v.push(format!("{mid}: {field} must be set"));
            }
        }
        // The gate step and the background run differ only in these args.
        if m["count"] != "{{args.measurements}}" {
            v.push(format!("{mid}: count must be {{{{args.measurements}}}} (the gate's count, the background's 0 = until the end)"));
        }
        if m["inconclusiveLimit"] != "{{args.inconclusive-limit}}" {
            v.push(format!(
                "{mid}: inconclusiveLimit must be {{{{args.inconclusive-limit}}}}"
            ));
        }
    }
    v
}

/// greeter-stable and greeter-canary (the contract) expose port `http` to the container port
/// `http`, and port `metrics`.
pub fn services_contract(objs: &[Value]) -> Vec<String> {
    let mut v = Vec::new();
    for svc_name in [STABLE_SERVICE, CANARY_SERVICE] {
        let Some(svc) = find(objs, "Service", svc_name) else {
            v.push(format!("Service/{svc_name} is not rendered"));
            continue;
        };
        let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
        if !ports
            .iter()
            .any(|p| p["name"] == "http" && p["targetPort"] == "http")
        {
            v.push(format!("{}: needs port http with targetPort http", id(svc)));
        }
        if !ports.iter().any(|p| p["name"] == "metrics") {
            v.push(format!("{}: needs port metrics", id(svc)));
        }
    }
    v
}

/// Series selectors (`metric{...}`) in a PromQL query: single braces, not `{{args.x}}` templating.
fn selector_count(query: &str) -> usize {
    let chars: Vec<char> = query.chars().collect();
    (0..chars.len())
        .filter(|&i| {
            chars[i] == '{' && chars.get(i + 1) != Some(&'{') && (i == 0 || chars[i - 1] != '{')
        })
        .count()
}

/// The ServiceMonitor scrapes port `metrics` and keeps rollouts-pod-template-hash as a label
/// (the analysis selects canary pods with it).
pub fn monitoring_hooks(objs: &[Value]) -> Vec<String> {
    let monitors: Vec<&Value> = of_kind(objs, "ServiceMonitor").collect();
    let ok = monitors.iter().any(|sm| {
        let ports = sm["spec"]["endpoints"].as_array().into_iter().flatten();
        let labels = sm["spec"]["podTargetLabels"]
            .as_array()
            .into_iter()
            .flatten();
        { ports }.any(|e| e["port"] == "metrics") && { labels }
            .any(|l| l == "rollouts-pod-template-hash")
    });
    if ok {
        Vec::new()
    } else {
        vec!["no ServiceMonitor scrapes port metrics with podTargetLabels [rollouts-pod-template-hash]".into()]
    }
}

/// How cautious a canary schedule is: (number of weight steps, total paused seconds, first weight).
/// An indefinite pause counts as infinitely long.
pub fn caution(objs: &[Value]) -> (usize, u64, i64) {
    let steps = find(objs, "Rollout", ROLLOUT)
        .and_then(|r| r["spec"]["strategy"]["canary"]["steps"].as_array().cloned())
        .unwrap_or_default();
    let weights: Vec<i64> = steps
        .iter()
        .filter_map(|s| s["setWeight"].as_i64())
        .collect();
    let paused = steps
        .iter()
        .filter(|s| s["pause"].is_object())
        .map(|s| pause_seconds(&s["pause"]["duration"]))
        .fold(0u64, u64::saturating_add);
    (
        weights.len(),
        paused,
        weights.first().copied().unwrap_or(100),
    )
}

fn pause_seconds(duration: &Value) -> u64 {
    match duration {
        Value::Null => u64::MAX,
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => {
            let (number, unit) =
                s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: u64 = number.parse().unwrap_or(0);
            n * match unit {
                "h" => 3600,
                "m" => 60,
                _ => 1,
            }
        }
        _ => 0,
    }
}

/// dev → staging → prod: strictly more weight steps, strictly more paused time, and a first
/// weight no larger than the previous environment's.
pub fn steps_grow_cautious(envs: &[(Env, &[Value])]) -> Vec<String> {
    let mut v = Vec::new();
    for pair in envs.windows(2) {
        let ((a, a_objs), (b, b_objs)) = (pair[0], pair[1]);
        let (ca, cb) = (caution(a_objs), caution(b_objs));
        if !(cb.0 > ca.0 && cb.1 > ca.1 && cb.2 <= ca.2) {
            v.push(format!(
                "canary steps must grow more cautious from {} to {}: (weight steps, paused s, first weight) {ca:?} -> {cb:?}",
                a.name(),
                b.name()
            ));
        }
    }
    v
}

/// Every Prometheus query of the analysis templates parses as PromQL (`promtool check rules` on
/// a temporary rule file), so a typo fails here and not in the middle of a rollout.
/// Panics with an install hint when promtool is missing.
pub fn analysis_promql(objs: &[Value]) -> Vec<String> {
    let rules: Vec<Value> = of_kind(objs, "AnalysisTemplate")
        .flat_map(|t| t["spec"]["metrics"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m.pointer("/provider/prometheus/query").cloned())
        .enumerate()
        .map(|(i, query)| json!({"record": format!("analysis_query_{i}"), "expr": query}))
        .collect();
    let file = std::env::temp_dir().join(format!(
        "policy-analysis-promql-{}-{:?}.yaml",
        std::process::id(),
        std::thread::current().id()
    ));
    let text = serde_json::to_string(&json!({"groups": [{"name": "analysis", "rules": rules}]}))
        .expect("serialisable");
    std::fs::write(&file, text).expect("write a temporary rule file");
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool (install Debian package prometheus, or run scripts/setup): {e}"));
    let _ = std::fs::remove_file(&file);
    if output.status.success() {
        Vec::new()
    } else {
        vec![format!(
            "analysis queries are not valid PromQL: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )]
    }
}
