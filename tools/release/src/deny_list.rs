//! The deny-list: image digests that failed a canary (`deploy/denied-images.yaml`). Nothing ships a
//! denied digest again: bump-image and promote refuse it, and CI (`promote --check`) fails a change
//! that makes any environment run one, or leaves one in the environment where it failed. Entries
//! are appended textually by `scripts/revert` (comments and earlier entries stay byte-for-byte);
//! a human un-denies a digest by deleting its entry in a reviewed PR.

use crate::environment::Environment;
use crate::image_ref::{validate_digest, ImageRef};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the deny-list lives, relative to the repository root.
pub const DENY_LIST: &str = "deploy/denied-images.yaml";
/// Longest line an appended entry writes: yamllint's `line-length` in `.yamllint.yaml` is 140.
const MAX_LINE: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Denial {
    pub digest: String,
    /// The release tag the digest was pinned with, if it had one (for humans).
    pub tag: Option<String>,
    /// Where the canary failed.
    pub environment: String,
    /// The AnalysisRun that failed it; none when the abort came from elsewhere (the progress
    /// deadline, or a human).
    pub analysis_run: Option<String>,
    /// When Argo Rollouts aborted it (RFC 3339, UTC).
    pub at: String,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    denied: Option<Vec<Denial>>,
}

#[derive(Debug, Default)]
pub struct DenyList {
    pub entries: Vec<Denial>,
}

impl DenyList {
    pub fn path(root: &Path) -> PathBuf {
        root.join(DENY_LIST)
    }

    /// The deny-list of the tree at `root`; a tree without the file denies nothing.
    pub fn load(root: &Path) -> Result<Self, String> {
        let path = Self::path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("{DENY_LIST}: {e}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = serde_yaml_ng::from_str(text).map_err(|e| {
            format!("not a deny-list (`denied:` followed by entries of digest, tag, environment, analysisRun, at, reason): {e}")
        })?;
        let entries = file.denied.unwrap_or_default();
        for entry in &entries {
            validate_digest(&entry.digest)?;
            Environment::parse(&entry.environment)
                .map_err(|e| format!("entry {}: {e}", entry.digest))?;
        }
        Ok(Self { entries })
    }

    pub fn find(&self, digest: &str) -> Option<&Denial> {
        self.entries.iter().find(|entry| entry.digest == digest)
    }

    /// The entry denying `image`'s digest, if any.
    pub fn denial_of(&self, image: &ImageRef) -> Option<&Denial> {
        image.digest.as_deref().and_then(|digest| self.find(digest))
    }

    /// Refuses an image whose digest is denied, naming the digest, where and why it failed.
    pub fn refuse(&self, image: &ImageRef) -> Result<(), String> {
        match self.denial_of(image) {
            Some(denial) => Err(format!("refusing {image}: {}", denial.describe())),
            None => Ok(()),
        }
    }
}

impl Denial {
    /// Why the digest is denied, for error messages.
    pub fn describe(&self) -> String {
        let run = self.analysis_run.as_deref().map_or_else(
            || "no AnalysisRun".to_string(),
            |run| format!("AnalysisRun {run}"),
        );
        format!(
            "{} is denied: its canary failed in {} at {} ({run}: {}); it stays out of every \
             environment until a reviewed PR deletes its entry in {DENY_LIST}",
            self.digest, self.environment, self.at, self.reason
        )
    }

    /// The entry as it is appended to the file. Free text is whitespace-normalised and written as
    /// a folded block wrapped at spaces, so no line exceeds yamllint's limit and reading it back
    /// gives exactly `reason`.
    fn to_yaml(&self) -> String {
        let quoted = |text: &str| serde_json::to_string(text).expect("strings serialise");
        let mut text = format!("  - digest: {}\n", self.digest);
        if let Some(tag) = &self.tag {
            text.push_str(&format!("    tag: {}\n", quoted(tag)));
        }
        text.push_str(&format!("    environment: {}\n", self.environment));
        let run = self.analysis_run.as_deref().map_or("null".into(), quoted);
        text.push_str(&format!("    analysisRun: {run}\n"));
        text.push_str(&format!("    at: {}\n", quoted(&self.at)));
        text.push_str("    reason: >-\n");
        for line in wrap(&self.reason, MAX_LINE - 6) {
            text.push_str(&format!("      {line}\n"));
        }
        text
    }
}

/// Collapses whitespace and drops control characters: what a folded YAML block can hold exactly.
pub fn normalise(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words joined into lines of at most `width` characters (a longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// The deny-list text with `denial` appended as the last entry of `denied:` (which must be the
/// file's last key). Checked by reading the result back: the old entries plus exactly this one.
pub fn append(text: &str, denial: &Denial) -> Result<String, String> {
    let before = DenyList::parse(text)?;
    let denial = Denial {
        reason: normalise(&denial.reason),
        ..denial.clone()
    };
    let mut edited = text.to_string();
    if !edited.is_empty() && !edited.ends_with('\n') {
        edited.push('\n');
    }
    edited.push_str(&denial.to_yaml());
    let after = DenyList::parse(&edited).map_err(|e| {
        format!("unsupported layout: keep `denied:` as the last key, in block style ({e})")
    })?;
    let mut expected = before.entries;
    expected.push(denial);
    if after.entries != expected {
        return Err(
            "unsupported layout: keep `denied:` as the last key, in block style (the appended entry did not read back as written)"
                .to_string(),
        );
    }
    Ok(edited)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "# comment kept\ndenied:\n";

    fn denial(reason: &str) -> Denial {
        Denial {
            digest: format!("sha256:{}", "b".repeat(64)),
            tag: Some("sha-2222222".into()),
            environment: "prod".into(),
            analysis_run: Some("greeter-64b9c7bd6-7".into()),
            at: "2026-12-01T09:15:30Z".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn appends_entries_that_read_back_exactly_and_keep_the_text_before_them() {
        let reason = "Metric \"success-rate\" assessed Failed due to failed (2) > failureLimit (1): \"Error Message: #1 'x' {y} [z] - a: b\"";
        let once = append(HEADER, &denial(reason)).unwrap();
        assert!(once.starts_with(HEADER), "{once}");
        assert_eq!(DenyList::parse(&once).unwrap().entries, [denial(reason)]);
        let mut second = denial("  spaced\tout\nover lines  ");
        second.digest = format!("sha256:{}", "c".repeat(64));
        second.analysis_run = None;
        second.tag = None;
        let twice = append(&once, &second).unwrap();
        assert!(twice.starts_with(&once));
        let entries = DenyList::parse(&twice).unwrap().entries;
        assert_eq!(entries[1].reason, "spaced out over lines");
        assert_eq!(entries[1].analysis_run, None);
    }

    #[test]
    fn long_reasons_wrap_within_the_line_limit() {
        let reason = ["word"; 80].join(" ") + " " + &"x".repeat(150);
        let text = append(HEADER, &denial(&reason)).unwrap();
        assert_eq!(DenyList::parse(&text).unwrap().entries[0].reason, reason);
        for line in text.lines().filter(|l| !l.trim_start().starts_with('x')) {
            assert!(line.len() <= MAX_LINE, "{line}");
        }
    }

    #[test]
    fn refuses_files_it_cannot_append_to() {
        for text in [
            "denied: []\n",
            "denied:\nother: 1\n",
            "denied:\n  - digest: sha256:abc\n",
            "denied:\n  - {digest: x}\n",
            "nope: 1\n",
        ] {
            assert!(append(text, &denial("r")).is_err(), "{text}");
        }
    }

    #[test]
    fn refusals_name_the_digest_the_environment_and_the_analysis_run() {
        let list = DenyList::parse(&append(HEADER, &denial("it failed")).unwrap()).unwrap();
        let image = ImageRef::parse(&format!(
            "ghcr.io/greeter-gitops/greeter@sha256:{}",
            "b".repeat(64)
        ))
        .unwrap();
        let error = list.refuse(&image).unwrap_err();
        for part in [
            &format!("sha256:{}", "b".repeat(64)),
            "in prod",
            "AnalysisRun greeter-64b9c7bd6-7: it failed",
            DENY_LIST,
        ] {
            assert!(error.contains(part), "{error}");
        }
        let other = ImageRef::parse("ghcr.io/greeter-gitops/greeter:sha-1234567").unwrap();
        assert!(list.refuse(&other).is_ok());
    }
}
