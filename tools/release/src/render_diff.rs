//! The rendered diff of every root Argo CD syncs (the overlays, argocd/, observability/) between a
//! base revision and the work tree, as Markdown for a PR comment: objects keyed and sorted, keys sorted, so only real changes show; capped in size.

use crate::{git, kustomize};
use serde_json::{Map, Value};
use similar::TextDiff;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// GitHub refuses comments longer than 65,536 characters; the rest is left for the comment's
/// own marker/header added by the workflow.
pub const DEFAULT_MAX_CHARS: usize = 65_000;
/// Room kept for the note listing what was cut.
const CUT_NOTE_BUDGET: usize = 2_000;
pub const MIN_MAX_CHARS: usize = CUT_NOTE_BUDGET + 1_000;

/// One changed object: which root (environment, argocd, observability), which object, its unified diff.
struct ObjectDiff {
    section: String,
    object: String,
    diff: String,
}

/// Renders every root at `base_ref` and in the work tree at `root` and reports the differences.
pub fn render_diff(root: &Path, base_ref: &str, max_chars: usize) -> Result<String, String> {
    if max_chars < MIN_MAX_CHARS {
        return Err(format!("--max-chars must be at least {MIN_MAX_CHARS}"));
    }
    let base =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    git::export_tree(root, base_ref, base.path())?;
    let mut roots = kustomize_roots(base.path())?;
    roots.extend(kustomize_roots(root)?);
    let mut roots: Vec<(String, PathBuf)> = roots.into_iter().collect();
    roots.sort_by_key(|(name, dir)| (rank(name, dir), name.clone()));

    let mut diffs = Vec::new();
    let mut unchanged = Vec::new();
    for (section, dir) in &roots {
        let before = rendered_objects(base.path(), section, dir)?;
        let after = rendered_objects(root, section, dir)?;
        let count = diffs.len();
        for object in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
            let old = before.get(object).map_or("", String::as_str);
            let new = after.get(object).map_or("", String::as_str);
            if old != new {
                let diff = TextDiff::from_lines(old, new)
                    .unified_diff()
                    .context_radius(3)
                    .header(
                        &format!("a/{section}/{object}"),
                        &format!("b/{section}/{object}"),
                    )
                    .to_string();
                diffs.push(ObjectDiff {
                    section: section.clone(),
                    object: object.clone(),
                    diff,
                });
            }
        }
        if diffs.len() == count {
            unchanged.push(section.clone());
        }
    }
    Ok(report(base_ref, &diffs, &unchanged, max_chars))
}

/// Kustomize roots Argo CD syncs besides the overlays, rendered after them.
const OTHER_ROOTS: [&str; 2] = ["argocd", "observability"];

/// Every kustomization Argo CD syncs in a tree: `deploy/overlays/*`, then OTHER_ROOTS, by name.
fn kustomize_roots(tree: &Path) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut roots = BTreeMap::new();
    let overlays = tree.join("deploy/overlays");
    if let Ok(entries) = fs::read_dir(&overlays) {
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", overlays.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            roots.insert(name.clone(), Path::new("deploy/overlays").join(name));
        }
    }
    for name in OTHER_ROOTS {
        roots.insert(name.to_string(), PathBuf::from(name));
    }
    roots.retain(|_, dir| tree.join(dir).join("kustomization.yaml").is_file());
    Ok(roots)
}

/// Report order: the environments in promotion order, other overlays, then OTHER_ROOTS.
fn rank(name: &str, dir: &Path) -> usize {
    const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];
    match (
        ENVIRONMENTS.iter().position(|e| *e == name),
        OTHER_ROOTS.iter().position(|r| Path::new(r) == dir),
    ) {
        (Some(position), _) if dir.starts_with("deploy/overlays") => position,
        (_, Some(position)) => ENVIRONMENTS.len() + 1 + position,
        _ => ENVIRONMENTS.len(),
    }
}

/// A root's objects as `kind/namespace/name` → canonical YAML; empty when the tree lacks the root.
fn rendered_objects(
    tree: &Path,
    name: &str,
    dir: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let dir = tree.join(dir);
    if !dir.join("kustomization.yaml").is_file() {
        return Ok(BTreeMap::new());
    }
    let mut objects = BTreeMap::new();
    for object in kustomize::render(&dir)? {
        let yaml = serde_yaml_ng::to_string(&canonical(&object)).map_err(|e| e.to_string())?;
        if let Some(duplicate) = objects.insert(object_key(&object), yaml) {
            return Err(format!(
                "{name} renders the same object twice:\n{duplicate}"
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
        text.push_str("No rendered object changes in any root.\n");
        return text;
    }
    if !unchanged.is_empty() {
        let _ = writeln!(text, "Unchanged: {}.\n", unchanged.join(", "));
    }
    let budget = max_chars - CUT_NOTE_BUDGET;
    let mut current_section = "";
    let mut cut_at = None;
    for (index, object) in diffs.iter().enumerate() {
        let mut block = String::new();
        if object.section != current_section {
            let count = diffs.iter().filter(|d| d.section == object.section).count();
            let _ = writeln!(
                block,
                "#### {}: {count} object(s) changed\n",
                object.section
            );
        }
        let _ = write!(block, "```diff\n{}```\n\n", object.diff);
        if chars(&text) + chars(&block) <= budget {
            text.push_str(&block);
            current_section = &object.section;
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
        object.section,
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
        object.section,
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
        let line = format!("- {}/{}\n", object.section, object.object);
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
