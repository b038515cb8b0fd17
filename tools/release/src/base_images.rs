//! Base images pinned in the form Dependabot's docker ecosystem reads and updates: a literal
//! `FROM registry/name:tag@sha256:<digest>`. Dependabot does not resolve build arguments in `FROM`
//! (dependabot-core#2057), so `FROM ${IMAGE}` is never updated; the tag names the line Dependabot
//! follows, the digest is exactly what gets built.

/// The problems of a Dockerfile's `FROM` lines (stages built earlier in the file are fine).
pub fn check_dockerfile(text: &str) -> Vec<String> {
    let mut stages = Vec::new();
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        {
            continue;
        }
        let Some(image) = words[1..].iter().find(|w| !w.starts_with("--")) else {
            problems.push(format!("line {}: FROM names no image", number + 1));
            continue;
        };
        let earlier_stage = stages.iter().any(|stage| stage == image);
        if let [.., as_keyword, stage] = words.as_slice() {
            if as_keyword.eq_ignore_ascii_case("AS") {
                stages.push(stage.to_string());
            }
        }
        if *image == "scratch" || earlier_stage {
            continue;
        }
        if image.contains('$') {
            problems.push(format!(
                "line {}: `FROM {image}`: Dependabot cannot read a build argument in FROM; write the image",
                number + 1
            ));
        } else if !is_tag_and_digest(image) {
            problems.push(format!(
                "line {}: `FROM {image}` is not pinned as `image:tag@sha256:<digest>`",
                number + 1
            ));
        }
    }
    problems
}

/// `name:tag@sha256:<64 lowercase hex>` (a registry port is not a tag).
fn is_tag_and_digest(image: &str) -> bool {
    let Some((name, digest)) = image.split_once("@sha256:") else {
        return false;
    };
    let tagged = name
        .rsplit_once(':')
        .is_some_and(|(_, tag)| !tag.is_empty() && !tag.contains('/'));
    tagged
        && digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn literal_tag_and_digest_pins_pass_and_later_stages_are_not_images() {
        let text = format!(
            "FROM docker.io/library/rust:1.95-bookworm@sha256:{DIGEST} AS chef\nFROM chef AS builder\nFROM --platform=linux/amd64 gcr.io/distroless/cc-debian12:nonroot@sha256:{DIGEST}\nFROM scratch\n"
        );
        assert_eq!(check_dockerfile(&text), Vec::<String>::new());
    }

    #[test]
    fn variables_tags_alone_and_digests_alone_are_refused() {
        for (from, reason) in [
            ("${RUST_IMAGE}", "build argument"),
            ("docker.io/library/rust:1.95-bookworm", "not pinned"),
            (
                &format!("docker.io/library/rust@sha256:{DIGEST}"),
                "not pinned",
            ),
            (
                &format!("localhost:5000/rust@sha256:{DIGEST}"),
                "not pinned",
            ),
            ("docker.io/library/rust:1.95@sha256:abc", "not pinned"),
        ] {
            let problems = check_dockerfile(&format!("FROM {from} AS chef\n"));
            assert!(
                problems.iter().any(|p| p.contains(reason)),
                "{from}: {problems:?}"
            );
        }
        // A stage may only be used after it is defined.
        assert_eq!(check_dockerfile("FROM chef AS chef\n").len(), 1);
    }
}
