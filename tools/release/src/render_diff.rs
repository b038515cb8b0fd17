//! The rendered diff of every overlay between a base revision and the work tree, as Markdown for a
//! PR comment: objects keyed and sorted, keys sorted, so only real changes show; capped in size.

use crate::{git, kustomize};
use serde_json::{Map, Value};
use similar::TextDiff;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// GitHub refuses comments longer than 65,536 characters; the rest is left for the comment's
/// own marker/header added by the workflow.
pub const DEFAULT_MAX_CHARS: usize = 65_000;
/// Room kept for the note listing what was cut.
const CUT_NOTE_BUDGET: usize = 2_000;
pub const MIN_MAX_CHARS: usize = CUT_NOTE_BUDGET + 1_000;

/// One changed object: which environment, which object, and its unified diff.
struct ObjectDiff {
    environment: String,
    object: String,
    diff: String,
}

/// Renders every overlay at `base_ref` and in the work tree at `root` and reports the differences.
pub fn render_diff(root: &Path, base_ref: &str, max_chars: usize) -> Result<String, String> {
    if max_chars < MIN_MAX_CHARS {
        return Err(format!("--max-chars must be at least {MIN_MAX_CHARS}"));
    }
    let base =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    git::export_tree(root, base_ref, base.path())?;
    let mut environments: Vec<String> = overlays(base.path())?
        .union(&overlays(root)?)
        .cloned()
        .collect();
    // Known environments in promotion order, then any others by name.
    let order = |name: &String| {
        ["dev", "staging", "prod"]
            .iter()
            .position(|e| e == name)
            .unwrap_or(usize::MAX)
    };
    environments.sort_by_key(|name| (order(name), name.clone()));

    let mut diffs = Vec::new();
    let mut unchanged = Vec::new();
    for environment in &environments {
        let before = rendered_objects(base.path(), environment)?;
        let after = rendered_objects(root, environment)?;
        let count = diffs.len();
        for object in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
            let old = before.get(object).map_or("", String::as_str);
            let new = after.get(object).map_or("", String::as_str);
            if old != new {
                let diff = TextDiff::from_lines(old, new)
                    .unified_diff()
                    .context_radius(3)
                    .header(
                        &format!("a/{environment}/{object}"),
                        &format!("b/{environment}/{object}"),
                    )
                    .to_string();
                diffs.push(ObjectDiff {
                    environment: environment.clone(),
                    object: object.clone(),
                    diff,
                });
            }
        }
        if diffs.len() == count {
            unchanged.push(environment.clone());
        }
    }
    Ok(report(base_ref, &diffs, &unchanged, max_chars))
}

/// Overlay names (directories with a kustomization.yaml) under `deploy/overlays` of a tree.
fn overlays(root: &Path) -> Result<BTreeSet<String>, String> {
    let dir = root.join("deploy/overlays");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(BTreeSet::new());
    };
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        if entry.path().join("kustomization.yaml").is_file() {
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// The overlay's objects as `kind/namespace/name` → canonical YAML; empty when it does not exist.
fn rendered_objects(root: &Path, environment: &str) -> Result<BTreeMap<String, String>, String> {
    let dir = root.join("deploy/overlays").join(environment);
    if !dir.join("kustomization.yaml").is_file() {
        return Ok(BTreeMap::new());
    }
    let mut objects = BTreeMap::new();
    for object in kustomize::render(&dir)? {
        let yaml = serde_yaml_ng::to_string(&canonical(&object)).map_err(|e| e.to_string())?;
        if let Some(duplicate) = objects.insert(object_key(&object), yaml) {
            return Err(format!(
                "{environment} renders the same object twice:\n{duplicate}"
            ));
        }
    }
    Ok(objects)
}

/// Identity of an object across revisions. Generated ConfigMaps/Secrets lose their content-hash
/// suffix so a changed generator input shows as a change, not as a removal plus an addition.
fn object_key(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .unwrap_or("_cluster");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    let name = match kind {
        "ConfigMap" | "Secret" => strip_hash_suffix(name),
        _ => name,
    };
    format!("{kind}/{namespace}/{name}")
}

/// Kustomize's name hash: `-` and 10 characters from its consonant-and-digit alphabet.
fn strip_hash_suffix(name: &str) -> &str {
    match name
        .len()
        .checked_sub(11)
        .and_then(|at| name.split_at_checked(at))
    {
        Some((stem, suffix))
            if suffix.starts_with('-')
                && suffix[1..]
                    .bytes()
                    .all(|b| b"2456789bcdfghkmt".contains(&b)) =>
        {
            stem
        }
        _ => name,
    }
}

/// The value with every mapping's keys in sorted order, whatever map type serde_json was built with.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The Markdown report, at most `max_chars` characters. Object diffs are kept whole while they fit;
/// the first that does not is cut at a line boundary, and a note lists every object left out.
fn report(base_ref: &str, diffs: &[ObjectDiff], unchanged: &[String], max_chars: usize) -> String {
    let mut text = format!("### Rendered manifests: `{base_ref}` → this change\n\n");
    if diffs.is_empty() {
        text.push_str("No rendered object changes in any overlay.\n");
        return text;
    }
    if !unchanged.is_empty() {
        let _ = writeln!(text, "Unchanged: {}.\n", unchanged.join(", "));
    }
    let budget = max_chars - CUT_NOTE_BUDGET;
    let mut current_environment = "";
    let mut cut_at = None;
    for (index, object) in diffs.iter().enumerate() {
        let mut block = String::new();
        if object.environment != current_environment {
            let count = diffs
                .iter()
                .filter(|d| d.environment == object.environment)
                .count();
            let _ = writeln!(
                block,
                "#### {}: {count} object(s) changed\n",
                object.environment
            );
        }
        let _ = write!(block, "```diff\n{}```\n\n", object.diff);
        if chars(&text) + chars(&block) <= budget {
            text.push_str(&block);
            current_environment = &object.environment;
            continue;
        }
        text.push_str(&truncated_block(
            object,
            budget.saturating_sub(chars(&text)),
        ));
        cut_at = Some(index);
        break;
    }
    if let Some(first_cut) = cut_at {
        text.push_str(&cut_note(&diffs[first_cut..], max_chars));
    }
    text
}

/// As many whole lines of one object's diff as fit in `room` characters, in a closed fence.
fn truncated_block(object: &ObjectDiff, room: usize) -> String {
    let lines: Vec<&str> = object.diff.split_inclusive('\n').collect();
    let frame = format!(
        "```diff\n```\n_{}/{}: diff cut after 0000000 of {} lines._\n\n",
        object.environment,
        object.object,
        lines.len()
    );
    let mut kept = 0;
    let mut used = chars(&frame);
    for line in &lines {
        if used + chars(line) > room {
            break;
        }
        used += chars(line);
        kept += 1;
    }
    if kept == 0 {
        return String::new();
    }
    format!(
        "```diff\n{}```\n_{}/{}: diff cut after {kept} of {} lines._\n\n",
        lines[..kept].concat(),
        object.environment,
        object.object,
        lines.len()
    )
}

/// The note saying what was cut, within CUT_NOTE_BUDGET characters.
fn cut_note(cut: &[ObjectDiff], max_chars: usize) -> String {
    let mut note = format!(
        "---\n**Output capped at {max_chars} characters** (GitHub comment limit): {} object diff(s) cut or \
         left out. Run `scripts/render-diff <base-ref>` locally for the full diff. Cut:\n",
        cut.len()
    );
    for (index, object) in cut.iter().enumerate() {
        let line = format!("- {}/{}\n", object.environment, object.object);
        let more = format!("- … and {} more\n", cut.len() - index);
        if chars(&note) + chars(&line) + chars(&more) > CUT_NOTE_BUDGET {
            note.push_str(&more);
            break;
        }
        note.push_str(&line);
    }
    note
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_kustomize_hash_suffixes() {
        assert_eq!(
            strip_hash_suffix("greeter-config-8h2c5mbt4k"),
            "greeter-config"
        );
        assert_eq!(strip_hash_suffix("greeter-config"), "greeter-config");
        assert_eq!(strip_hash_suffix("greeter-secrets"), "greeter-secrets");
        assert_eq!(
            strip_hash_suffix("greeter-config-aaaaaaaaaa"),
            "greeter-config-aaaaaaaaaa"
        );
    }

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let value: Value = serde_json::json!({"b": {"z": 1, "a": [{"y": 1, "x": 2}]}, "a": 0});
        let yaml = serde_yaml_ng::to_string(&canonical(&value)).unwrap();
        assert_eq!(yaml, "a: 0\nb:\n  a:\n  - x: 2\n    y: 1\n  z: 1\n");
    }
}
