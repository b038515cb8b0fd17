//! Parsing and validation of the greeter image reference given to bump-image and promote.

use std::fmt;

/// The one image this repository ships (the `images:` entry name in every overlay).
pub const GREETER_IMAGE: &str = "ghcr.io/greeter-gitops/greeter";

/// A greeter image pinned by an immutable release tag, a digest, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `repository[:tag][@sha256:<64 hex>]`, refusing anything that is not a greeter release
    /// reference: another repository, `latest`, mutable or malformed tags, malformed digests.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((name_and_tag, digest)) => {
                validate_digest(digest)?;
                (name_and_tag, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let last_slash = name_and_tag.rfind('/').unwrap_or(0);
        let (repository, tag) = match name_and_tag.rfind(':') {
            Some(colon) if colon > last_slash => (
                &name_and_tag[..colon],
                Some(name_and_tag[colon + 1..].to_string()),
            ),
            _ => (name_and_tag, None),
        };
        if repository != GREETER_IMAGE {
            return Err(format!(
                "image repository `{repository}` is not `{GREETER_IMAGE}` (the only image these overlays ship)"
            ));
        }
        if let Some(tag) = &tag {
            validate_tag(tag)?;
        }
        if tag.is_none() && digest.is_none() {
            return Err(format!("`{text}` has neither a tag nor a digest"));
        }
        Ok(Self {
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// How the image is pinned, for error messages.
    pub fn describe_pin(&self) -> &'static str {
        match (&self.tag, &self.digest) {
            (Some(_), Some(_)) => "tag and digest",
            (None, Some(_)) => "digest",
            _ => "tag only",
        }
    }

    /// The git revision the image was built from, from its tag: the commit of `sha-<hex>`, or the
    /// git tag `v<semver>` the release workflow built `<semver>` from.
    pub fn revision(&self) -> Option<String> {
        let tag = self.tag.as_deref()?;
        Some(
            tag.strip_prefix("sha-")
                .map_or_else(|| format!("v{tag}"), str::to_string),
        )
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Digests are `sha256:` followed by exactly 64 lowercase hex digits.
pub fn validate_digest(digest: &str) -> Result<(), String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("digest `{digest}` must start with `sha256:`"))?;
    if hex.len() != 64 || !is_lower_hex(hex) {
        return Err(format!(
            "digest `{digest}` must be `sha256:` followed by 64 lowercase hex digits"
        ));
    }
    Ok(())
}

/// Only the tags the release workflow publishes are accepted, because only they are immutable by
/// convention: `sha-<7..40 hex>` (source commit) and `MAJOR.MINOR.PATCH[-PRERELEASE]` (git tag).
fn validate_tag(tag: &str) -> Result<(), String> {
    if tag == "latest" {
        return Err(
            "refusing tag `latest`: it is mutable, so git would not say what runs".to_string(),
        );
    }
    if let Some(hex) = tag.strip_prefix("sha-") {
        if (7..=40).contains(&hex.len()) && is_lower_hex(hex) {
            return Ok(());
        }
    } else if is_semver(tag) {
        return Ok(());
    }
    Err(format!(
        "tag `{tag}` is not a release tag: expected `sha-<7 to 40 lowercase hex>` or `MAJOR.MINOR.PATCH[-PRERELEASE]`"
    ))
}

fn is_lower_hex(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_semver(tag: &str) -> bool {
    let (core, prerelease) = match tag.split_once('-') {
        Some((core, prerelease)) => (core, Some(prerelease)),
        None => (tag, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let core_ok = numbers.len() == 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let prerelease_ok = prerelease.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 64
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    });
    core_ok && prerelease_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_release_references() {
        let both = ImageRef::parse(&format!("{GREETER_IMAGE}:sha-abc1234@{DIGEST}")).unwrap();
        assert_eq!(both.tag.as_deref(), Some("sha-abc1234"));
        assert_eq!(both.digest.as_deref(), Some(DIGEST));
        assert_eq!(
            both.to_string(),
            format!("{GREETER_IMAGE}:sha-abc1234@{DIGEST}")
        );
        assert_eq!(both.revision().as_deref(), Some("abc1234"));
        let semver = ImageRef::parse(&format!("{GREETER_IMAGE}:1.4.0@{DIGEST}")).unwrap();
        assert_eq!(semver.revision().as_deref(), Some("v1.4.0"));
        assert!(ImageRef::parse(&format!("{GREETER_IMAGE}@{DIGEST}"))
            .unwrap()
            .tag
            .is_none());
        assert!(ImageRef::parse(&format!("{GREETER_IMAGE}:1.4.0-rc.1")).is_ok());
    }

    #[test]
    fn refuses_malformed_and_mutable_references() {
        for bad in [
            format!("{GREETER_IMAGE}:latest"),
            format!("{GREETER_IMAGE}:latest@{DIGEST}"),
            format!("{GREETER_IMAGE}:main"),
            format!("{GREETER_IMAGE}:sha-ABC1234"),
            format!("{GREETER_IMAGE}:sha-abc12"),
            format!("{GREETER_IMAGE}:1.2"),
            format!("{GREETER_IMAGE}:"),
            GREETER_IMAGE.to_string(),
            format!("{GREETER_IMAGE}@sha256:abc"),
            format!("{GREETER_IMAGE}@md5:{}", &DIGEST[7..]),
            format!("docker.io/library/nginx@{DIGEST}"),
            format!("{GREETER_IMAGE}:sha-abc1234@{DIGEST}@{DIGEST}"),
        ] {
            assert!(ImageRef::parse(&bad).is_err(), "accepted {bad}");
        }
        let latest = ImageRef::parse(&format!("{GREETER_IMAGE}:latest")).unwrap_err();
        assert!(latest.contains("latest"), "{latest}");
    }
}
