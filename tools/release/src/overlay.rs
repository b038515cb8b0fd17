//! Minimal textual edits of an overlay's `images:` entry. The file is never re-serialised: only the
//! `newTag:`/`digest:` lines of the greeter entry change, so comments and formatting elsewhere stay
//! byte-for-byte and a bump PR shows one or two changed lines.

use crate::image_ref::{ImageRef, GREETER_IMAGE};
use serde_json::Value;

/// The image an overlay's greeter `images:` entry pins (its tag and/or digest).
pub fn read_image(kustomization: &str) -> Result<ImageRef, String> {
    let entry = greeter_entry(kustomization)?;
    let field = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(ImageRef {
        repository: GREETER_IMAGE.to_string(),
        tag: field("newTag"),
        digest: field("digest"),
    })
}

/// Returns the kustomization text with the greeter entry pinned to exactly `image`'s tag and digest
/// (keys the image lacks are removed). Unchanged text when it already is.
pub fn set_image(kustomization: &str, image: &ImageRef) -> Result<String, String> {
    greeter_entry(kustomization)?;
    let mut lines: Vec<String> = kustomization
        .split_inclusive('\n')
        .map(str::to_string)
        .collect();
    set_key(&mut lines, "newTag", image.tag.as_deref())?;
    set_key(&mut lines, "digest", image.digest.as_deref())?;
    let edited = lines.concat();
    let pinned = read_image(&edited)?;
    if pinned.tag != image.tag || pinned.digest != image.digest {
        return Err(format!(
            "internal error: edited entry pins {pinned}, not {image}"
        ));
    }
    Ok(edited)
}

/// The parsed greeter entry, after checking the layout this editor supports.
fn greeter_entry(kustomization: &str) -> Result<serde_json::Map<String, Value>, String> {
    let document: Value = serde_yaml_ng::from_str(kustomization)
        .map_err(|e| format!("kustomization is not valid YAML: {e}"))?;
    let images = document
        .get("images")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            format!(
                "kustomization has no `images:` list (expected an entry `name: {GREETER_IMAGE}`)"
            )
        })?;
    let mut entries = images
        .iter()
        .filter(|entry| entry.get("name").and_then(Value::as_str) == Some(GREETER_IMAGE));
    let entry = entries
        .next()
        .and_then(Value::as_object)
        .ok_or_else(|| format!("`images:` has no entry `name: {GREETER_IMAGE}`"))?;
    if entries.next().is_some() {
        return Err(format!(
            "`images:` has more than one entry `name: {GREETER_IMAGE}`"
        ));
    }
    if entry.contains_key("newName") {
        return Err(
            "the greeter `images:` entry sets `newName`; the image repository is fixed".to_string(),
        );
    }
    Ok(entry.clone())
}

/// Where the greeter entry sits in the file: its line range and the column of its keys.
struct EntryLocation {
    first: usize,
    /// One past the entry's last key line (trailing blank and comment lines excluded).
    end: usize,
    key_column: usize,
}

impl EntryLocation {
    /// Line `i` as `key: value` when it is one of this entry's own keys (not a nested one).
    fn key<'a>(&self, lines: &'a [String], i: usize, key: &str) -> Option<KeyValue<'a>> {
        let line = &lines[i];
        (i == self.first || indent(line) == self.key_column)
            .then(|| key_value(line, self.key_column, key))
            .flatten()
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

/// Finds the block-style `images:` sequence item whose `name:` is the greeter image.
fn locate_entry(lines: &[String]) -> Result<EntryLocation, String> {
    let unsupported = || {
        format!(
            "unsupported layout: write `images:` as a block sequence of block mappings \
             (`images:` / `  - name: {GREETER_IMAGE}` / `    newTag: ...`)"
        )
    };
    let header = lines
        .iter()
        .position(|line| {
            line.strip_prefix("images:")
                .is_some_and(|rest| rest.trim().is_empty() || rest.trim().starts_with('#'))
        })
        .ok_or_else(unsupported)?;
    // The sequence ends at the next top-level key (a sequence may itself sit at column 0).
    let block_end = (header + 1..lines.len())
        .find(|&i| is_content(&lines[i]) && indent(&lines[i]) == 0 && !lines[i].starts_with('-'))
        .unwrap_or(lines.len());
    let dash_column = (header + 1..block_end)
        .find(|&i| is_content(&lines[i]))
        .map(|i| indent(&lines[i]))
        .ok_or_else(unsupported)?;
    let item_starts: Vec<usize> = (header + 1..block_end)
        .filter(|&i| indent(&lines[i]) == dash_column && lines[i].trim_start().starts_with("- "))
        .collect();
    for (n, &first) in item_starts.iter().enumerate() {
        let limit = item_starts.get(n + 1).copied().unwrap_or(block_end);
        let after_dash = &lines[first][dash_column + 2..];
        let key_column = dash_column + 2 + indent(after_dash);
        if after_dash.trim_start().starts_with('{') {
            return Err(unsupported());
        }
        let end = (first..limit)
            .rev()
            .find(|&i| is_content(&lines[i]))
            .map_or(first + 1, |i| i + 1);
        let location = EntryLocation {
            first,
            end,
            key_column,
        };
        let names_greeter = (first..end).any(|i| {
            location
                .key(lines, i, "name")
                .is_some_and(|name| unquote(name.value) == GREETER_IMAGE)
        });
        if names_greeter {
            return Ok(location);
        }
    }
    Err(unsupported())
}

/// A `key: value  # comment` line split so the value can be swapped in place.
struct KeyValue<'a> {
    /// Everything before the value: indentation (or `- `), key, colon and spaces.
    prefix_len: usize,
    value: &'a str,
}

fn key_value<'a>(line: &'a str, key_column: usize, key: &str) -> Option<KeyValue<'a>> {
    let rest = line
        .get(key_column..)?
        .strip_prefix(key)?
        .strip_prefix(':')?;
    let value_start = line.len() - rest.len() + (rest.len() - rest.trim_start_matches(' ').len());
    let tail = &line[value_start..];
    let value_len = match tail.chars().next() {
        Some(quote @ ('"' | '\'')) => tail[1..].find(quote).map_or(tail.len(), |close| close + 2),
        _ => tail[..tail.find(" #").unwrap_or(tail.len())]
            .trim_end()
            .len(),
    };
    Some(KeyValue {
        prefix_len: value_start,
        value: &tail[..value_len],
    })
}

fn unquote(value: &str) -> &str {
    value.trim_matches(|c| c == '"' || c == '\'')
}

/// Sets (replacing in place, or inserting), or removes one scalar key of the greeter entry.
fn set_key(lines: &mut Vec<String>, key: &str, wanted: Option<&str>) -> Result<(), String> {
    let entry = locate_entry(lines)?;
    let existing =
        (entry.first..entry.end).find_map(|i| entry.key(lines, i, key).map(|kv| (i, kv)));
    match (existing, wanted) {
        (Some((_, current)), Some(wanted)) if unquote(current.value) == wanted => {}
        (Some((i, current)), Some(wanted)) => {
            let quote = current
                .value
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'');
            let quoted = quote.map_or_else(|| wanted.to_string(), |q| format!("{q}{wanted}{q}"));
            let line = &lines[i];
            let replaced = format!(
                "{}{quoted}{}",
                &line[..current.prefix_len],
                &line[current.prefix_len + current.value.len()..]
            );
            lines[i] = replaced;
        }
        (Some((i, _)), None) if i == entry.first => {
            return Err(format!(
                "unsupported layout: cannot remove `{key}` from the `- ` line; put `name:` first"
            ));
        }
        (Some((i, _)), None) => {
            lines.remove(i);
        }
        (None, Some(wanted)) => {
            // newTag goes before an existing digest so the entry reads name, newTag, digest.
            let before_digest = (key == "newTag")
                .then(|| {
                    (entry.first + 1..entry.end).find(|&i| entry.key(lines, i, "digest").is_some())
                })
                .flatten();
            let at = before_digest.unwrap_or(entry.end);
            if !lines[at - 1].ends_with('\n') {
                lines[at - 1].push('\n');
            }
            lines.insert(
                at,
                format!("{}{key}: {wanted}\n", " ".repeat(entry.key_column)),
            );
        }
        (None, None) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn image(tag: Option<&str>, digest: Option<&str>) -> ImageRef {
        ImageRef {
            repository: GREETER_IMAGE.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn replaces_values_in_place_keeping_quotes_and_comments() {
        let text = "resources:\n  - ../../base\nimages:\n  # the service\n  - name: ghcr.io/greeter-gitops/greeter\n    newTag: \"sha-1111111\"  # bumped by CI\n    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111   # pinned\n";
        let edited = set_image(text, &image(Some("sha-2222222"), Some(DIGEST))).unwrap();
        let expected = text
            .replace("sha-1111111", "sha-2222222")
            .replace(&format!("sha256:{}", "1".repeat(64)), DIGEST);
        assert_eq!(edited, expected);
        let text = "images:\n  - name: ghcr.io/greeter-gitops/greeter\n    newTag: \"sha-1111111\"  # bumped by CI\n";
        let edited = set_image(text, &image(Some("sha-2222222"), None)).unwrap();
        assert_eq!(edited, text.replace("sha-1111111", "sha-2222222"));
    }

    #[test]
    fn inserts_and_removes_keys_at_the_entry_indentation() {
        let text = "images:\n- name: other\n  newTag: x\n- name: ghcr.io/greeter-gitops/greeter\n  newTag: sha-1111111\n\n# trailing\nlabels: []\n";
        let edited = set_image(text, &image(None, Some(DIGEST))).unwrap();
        assert_eq!(
            edited,
            format!("images:\n- name: other\n  newTag: x\n- name: ghcr.io/greeter-gitops/greeter\n  digest: {DIGEST}\n\n# trailing\nlabels: []\n")
        );
        let back = set_image(&edited, &image(Some("sha-3333333"), Some(DIGEST))).unwrap();
        assert!(
            back.contains(&format!("  newTag: sha-3333333\n  digest: {DIGEST}\n")),
            "{back}"
        );
    }

    #[test]
    fn handles_a_file_without_final_newline() {
        let text = "images:\n  - name: ghcr.io/greeter-gitops/greeter\n    newTag: sha-1111111";
        let edited = set_image(text, &image(Some("sha-1111111"), Some(DIGEST))).unwrap();
        assert_eq!(edited, format!("{text}\n    digest: {DIGEST}\n"));
    }

    #[test]
    fn refuses_layouts_it_cannot_edit_minimally() {
        for text in [
            "images: [{name: ghcr.io/greeter-gitops/greeter, newTag: sha-1111111}]\n",
            "images:\n  - {name: ghcr.io/greeter-gitops/greeter, newTag: sha-1111111}\n",
            "images:\n  - name: other\n",
            "resources: []\n",
            "images:\n  - name: ghcr.io/greeter-gitops/greeter\n    newName: evil/greeter\n",
        ] {
            assert!(
                set_image(text, &image(Some("sha-2222222"), None)).is_err(),
                "edited {text}"
            );
        }
    }
}
