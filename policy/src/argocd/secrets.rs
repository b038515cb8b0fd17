//! The ClusterSecretStores in argocd/ and the ExternalSecrets that read them.

use super::model::{id, name, of_kind, str_at, App, Rendered};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The keys of Secret `greeter-secrets` the service reads, and the minimum lengths it enforces.
const GREETER_SECRET: &str = "greeter-secrets";
const GREETER_KEYS: [(&str, usize); 4] = [
    ("SECRET_MESSAGE", 1),
    ("DUMMY_API_KEY", 16),
    ("JWT_SECRET", 32),
    ("REDIS_PASSWORD", 1),
];

/// Every ClusterSecretStore limits the namespaces that may use it; every ExternalSecret an
/// Application renders reads an existing ClusterSecretStore that admits its namespace. For the
/// fake provider the whole Secret is resolved here: every extracted key, property and template
/// variable exists, and `greeter-secrets` gets every key the service needs, long enough for it.
pub fn secret_stores(apps: &[App], objects: &[Value], rendered: &Rendered) -> Vec<String> {
    let mut violations = Vec::new();
    let stores: BTreeMap<&str, &Value> = of_kind(objects, "ClusterSecretStore")
        .map(|s| (name(s), s))
        .collect();
    for store in stores.values() {
        if allowed_namespaces(store).is_empty() {
            violations.push(format!(
                "{}: no conditions[].namespaces: every namespace could read it",
                id(store)
            ));
        }
    }
    for app in apps {
        for es in of_kind(
            rendered
                .get(&app.name)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            "ExternalSecret",
        ) {
            let namespace = Some(str_at(es, "/metadata/namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or(app.destination_namespace());
            let at = format!("{} {} in {namespace}", app.origin, id(es));
            let (store_kind, store_name) = (
                str_at(es, "/spec/secretStoreRef/kind"),
                str_at(es, "/spec/secretStoreRef/name"),
            );
            let Some(store) = stores
                .get(store_name)
                .filter(|_| store_kind == "ClusterSecretStore")
            else {
                violations.push(format!(
                    "{at}: reads {store_kind} {store_name:?}, which argocd/ does not define"
                ));
                continue;
            };
            if !allowed_namespaces(store).contains(&namespace) {
                violations.push(format!(
                    "{at}: ClusterSecretStore {store_name} does not admit namespace {namespace}"
                ));
            }
            if let Some(fake) = store
                .pointer("/spec/provider/fake/data")
                .and_then(Value::as_array)
            {
                match resolve_fake(es, fake) {
                    Ok(secret) => violations.extend(
                        greeter_secret_violations(es, &secret)
                            .into_iter()
                            .map(|v| format!("{at}: {v}")),
                    ),
                    Err(e) => violations.push(format!("{at}: {e}")),
                }
            }
        }
    }
    violations
}

fn allowed_namespaces(store: &Value) -> Vec<&str> {
    let conditions = store
        .pointer("/spec/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    conditions
        .flat_map(|c| c["namespaces"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect()
}

/// The Secret an ExternalSecret would produce from fake-provider data.
fn resolve_fake(es: &Value, fake: &[Value]) -> Result<Map<String, Value>, String> {
    let lookup = |key: &str| {
        fake.iter()
            .find(|d| str_at(d, "/key") == key)
            .map(|d| str_at(d, "/value"))
            .ok_or(format!("fake store has no key {key:?}"))
    };
    let as_object = |key: &str| -> Result<Map<String, Value>, String> {
        serde_json::from_str(lookup(key)?)
            .map_err(|e| format!("fake key {key:?} is not a JSON object: {e}"))
    };
    let mut values = Map::new();
    for from in es
        .pointer("/spec/dataFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = from
            .pointer("/extract/key")
            .and_then(Value::as_str)
            .ok_or(format!("dataFrom entry {from} is not an extract"))?;
        values.extend(as_object(key)?);
    }
    for item in es
        .pointer("/spec/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (key, property) = (
            str_at(item, "/remoteRef/key"),
            str_at(item, "/remoteRef/property"),
        );
        let value = if property.is_empty() {
            Value::String(lookup(key)?.to_string())
        } else {
            as_object(key)?
                .remove(property)
                .ok_or(format!("fake key {key:?} has no property {property:?}"))?
        };
        values.insert(str_at(item, "/secretKey").to_string(), value);
    }
    let Some(template) = es
        .pointer("/spec/target/template/data")
        .and_then(Value::as_object)
    else {
        return Ok(values);
    };
    template
        .iter()
        .map(|(key, text)| {
            Ok((
                key.clone(),
                Value::String(render_template(text.as_str().unwrap_or(""), &values)?),
            ))
        })
        .collect()
}

/// ESO templates as the overlays use them: `{{ .KEY }}` placeholders only.
fn render_template(text: &str, values: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .ok_or(format!("unterminated template {text:?}"))?
            + start;
        let expression = rest[start + 2..end].trim();
        let key = expression
            .strip_prefix('.')
            .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let key = key.ok_or(format!(
            "template expression {expression:?} is not modelled"
        ))?;
        let value = values.get(key).ok_or(format!(
            "template reads {key}, which the store does not provide"
        ))?;
        out.push_str(&rest[..start]);
        out.push_str(value.as_str().ok_or(format!("{key} is not a string"))?);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn greeter_secret_violations(es: &Value, secret: &Map<String, Value>) -> Vec<String> {
    if str_at(es, "/spec/target/name") != GREETER_SECRET {
        return Vec::new();
    }
    GREETER_KEYS
        .iter()
        .filter_map(
            |(key, min_len)| match secret.get(*key).and_then(Value::as_str) {
                None => Some(format!("{GREETER_SECRET} lacks {key}")),
                Some(value) if value.len() < *min_len => Some(format!(
                    "{GREETER_SECRET} {key} is {} bytes, the service needs {min_len}",
                    value.len()
                )),
                Some(_) => None,
            },
        )
        .collect()
}
