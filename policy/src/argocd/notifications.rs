//! Argo CD notifications: every Application subscribes to what it must and every subscribed
//! trigger, template and service is defined; the triggers keep every guard of the upstream
//! catalog; GitHub deployments are of a branch the release-bot environment admits.

use super::model::{kind, name, of_kind, App, Rendered};
use super::DEPLOY_BRANCH;
use serde_json::Value;

const CONFIG_MAP: &str = "argocd-notifications-cm";

fn notifications_cm(objects: &[Value]) -> Result<&Value, String> {
    of_kind(objects, "ConfigMap")
        .find(|c| name(c) == CONFIG_MAP)
        .ok_or_else(|| format!("{CONFIG_MAP} is not part of argocd/"))
}

/// The conditions of a trigger (`trigger.<name>` in the ConfigMap's data), if it is defined.
fn conditions(data: &Value, trigger: &str) -> Option<Vec<Value>> {
    let definition = data.get(format!("trigger.{trigger}"))?.as_str()?;
    Some(serde_yaml_ng::from_str(definition).unwrap_or_default())
}

/// Every Application subscribes to sync failures and degraded health, and those that deploy a
/// Rollout also to successful deploys; each subscribed trigger, its templates and the service are
/// defined in argocd-notifications-cm.
pub fn notifications(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    const PREFIX: &str = "notifications.argoproj.io/subscribe.";
    let mut violations = Vec::new();
    let data = match notifications_cm(objects) {
        Ok(cm) => &cm["data"],
        Err(e) => return vec![e],
    };
    for app in apps {
        let annotations = app
            .object
            .pointer("/metadata/annotations")
            .and_then(Value::as_object);
        let subscriptions: Vec<(&str, &str, &str)> = annotations
            .into_iter()
            .flatten()
            .filter_map(|(key, channel)| {
                let (trigger, service) = key.strip_prefix(PREFIX)?.split_once('.')?;
                Some((trigger, service, channel.as_str().unwrap_or("")))
            })
            .collect();
        let deploys_rollout = rendered
            .get(&app.name)
            .into_iter()
            .flatten()
            .any(|o| kind(o) == "Rollout");
        let required = ["on-sync-failed", "on-health-degraded"]
            .into_iter()
            .chain(deploys_rollout.then_some("on-deployed"));
        for trigger in required {
            if !subscriptions.iter().any(|(t, _, _)| *t == trigger) {
                violations.push(format!(
                    "{}: no notification subscription for {trigger}",
                    app.origin
                ));
            }
        }
        for (trigger, service, channel) in subscriptions {
            // GitHub takes its repository from the template (repoURLPath), not a recipient.
            if channel.is_empty() && service != "github" {
                violations.push(format!(
                    "{}: {trigger}.{service} subscription has no channel",
                    app.origin
                ));
            }
            if data.get(format!("service.{service}")).is_none() {
                violations.push(format!(
                    "{}: notification service {service} is not configured",
                    app.origin
                ));
            }
            let Some(conditions) = conditions(data, trigger) else {
                violations.push(format!(
                    "{}: trigger {trigger} is not defined in argocd-notifications-cm",
                    app.origin
                ));
                continue;
            };
            let templates: Vec<&str> = conditions
                .iter()
                .flat_map(|c| c["send"].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .collect();
            if templates.is_empty() {
                violations.push(format!("trigger {trigger}: sends no template"));
            }
            for template in templates
                .into_iter()
                .filter(|t| data.get(format!("template.{t}")).is_none())
            {
                violations.push(format!(
                    "trigger {trigger}: template {template} is not defined"
                ));
            }
        }
    }
    violations
}

/// Each trigger the upstream catalog also defines keeps the catalog's guards: its `oncePer`, and
/// every conjunct of its `when` — for a parenthesised disjunction, it or one of its alternatives
/// (which is stricter). `catalog` is the catalog's ConfigMap (notifications_catalog/install.yaml of
/// the Argo CD version installed).
pub fn catalog_guards(objects: &[Value], catalog: &Value) -> Vec<String> {
    let data = match notifications_cm(objects) {
        Ok(cm) => &cm["data"],
        Err(e) => return vec![e],
    };
    let mut violations = Vec::new();
    for key in data.as_object().into_iter().flat_map(|d| d.keys()) {
        let Some(trigger) = key.strip_prefix("trigger.") else {
            continue;
        };
        let (Some(ours), Some(upstream)) = (
            conditions(data, trigger),
            conditions(&catalog["data"], trigger),
        ) else {
            continue;
        };
        for (index, upstream) in upstream.iter().enumerate() {
            let Some(ours) = ours.get(index) else {
                violations.push(format!(
                    "trigger {trigger}: no condition {index} (the catalog has one)"
                ));
                continue;
            };
            if let Some(once_per) = upstream["oncePer"].as_str() {
                if ours["oncePer"].as_str().map(normalized) != Some(normalized(once_per)) {
                    violations.push(format!(
                        "trigger {trigger}: oncePer is {:?}, the catalog's is {once_per:?}",
                        ours["oncePer"].as_str().unwrap_or("missing")
                    ));
                }
            }
            let our_conjuncts = operands(ours["when"].as_str().unwrap_or_default(), "and");
            for guard in operands(upstream["when"].as_str().unwrap_or_default(), "and") {
                let alternatives = operands(unparenthesized(&guard), "or");
                let kept = our_conjuncts.contains(&guard)
                    || (alternatives.len() > 1
                        && alternatives.iter().any(|a| our_conjuncts.contains(a)));
                if !kept {
                    violations.push(format!(
                        "trigger {trigger}: misses the catalog's guard `{guard}`"
                    ));
                }
            }
        }
    }
    violations
}

/// Every GitHub deployment a template creates is of the deploy branch (`reference`): GitHub admits
/// a run to an environment by matching its GITHUB_REF against the environment's branch rules, and
/// the deployment_status run of a deployment created for a SHA (notifications-engine's default
/// when `reference` is unset) has none.
pub fn github_deployments(objects: &[Value]) -> Vec<String> {
    let data = match notifications_cm(objects) {
        Ok(cm) => &cm["data"],
        Err(e) => return vec![e],
    };
    let mut violations = Vec::new();
    for (key, template) in data.as_object().into_iter().flatten() {
        if !key.starts_with("template.") {
            continue;
        }
        let template: Value =
            serde_yaml_ng::from_str(template.as_str().unwrap_or_default()).unwrap_or_default();
        let deployment = &template["github"]["deployment"];
        if deployment.is_null() {
            continue;
        }
        if deployment["reference"].as_str() != Some(DEPLOY_BRANCH) {
            violations.push(format!(
                "{key}: the GitHub deployment's reference is {}, not {DEPLOY_BRANCH:?}: its deployment_status run gets a GITHUB_REF the release-bot environment refuses",
                deployment["reference"].as_str().map_or("unset (the revision)".to_string(), |r| format!("{r:?}"))
            ));
        }
    }
    violations
}

fn normalized(expression: &str) -> String {
    expression.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The top-level operands of `operator` (`and`, `or`) in an expr-lang expression: outside
/// parentheses, brackets and quotes, whitespace normalised.
fn operands(expression: &str, operator: &str) -> Vec<String> {
    let expression = normalized(expression);
    let separator = format!(" {operator} ");
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0, None, 0);
    let mut chars = expression.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ' ') if depth == 0 && expression[i..].starts_with(&separator) => {
                parts.push(expression[start..i].to_string());
                start = i + separator.len();
                for _ in 1..separator.len() {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    parts.push(expression[start..].to_string());
    parts
}

/// The expression without one pair of parentheses enclosing all of it.
fn unparenthesized(expression: &str) -> &str {
    let Some(inner) = expression
        .strip_prefix('(')
        .and_then(|e| e.strip_suffix(')'))
    else {
        return expression;
    };
    // `(a) or (b)` starts and ends with parentheses that do not enclose it all.
    let mut depth = 0;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return expression,
            ')' => depth -= 1,
            _ => {}
        }
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_split_only_at_the_top_level() {
        assert_eq!(
            operands("a != nil and  b in ['x and y', 'z'] and (c or d)", "and"),
            ["a != nil", "b in ['x and y', 'z']", "(c or d)"]
        );
        assert_eq!(
            operands(unparenthesized("(!f(x).g(1 * m) or h(y))"), "or"),
            ["!f(x).g(1 * m)", "h(y)"]
        );
        assert_eq!(unparenthesized("(a) or (b)"), "(a) or (b)");
    }
}
