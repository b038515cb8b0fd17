//! The payload Argo Rollouts sends when it aborts a canary: the `client_payload` of the GitHub
//! `repository_dispatch` event that template `rollout-aborted` (argocd/platform/values/argo-rollouts.yaml)
//! renders. Parsed strictly, so the template and this reader cannot drift apart silently
//! (tests/rollout_notification.rs renders the template and parses the result here).

use crate::environment::Environment;
use crate::image_ref::ImageRef;
use serde::Deserialize;

/// The `event_type` of the dispatch (the revert workflow's `repository_dispatch` type).
pub const EVENT_TYPE: &str = "rollout-aborted";
/// The one Rollout the overlays deploy.
const ROLLOUT: &str = "greeter";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Raw {
    environment: String,
    namespace: String,
    rollout: String,
    revision: String,
    aborted_image: String,
    stable_pod_template_hash: String,
    canary_pod_template_hash: String,
    analysis_run: RawAnalysisRun,
    aborted_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalysisRun {
    name: String,
    phase: String,
    message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisRun {
    pub name: String,
    pub phase: String,
    pub message: String,
}

/// What the controller knew when it aborted. It does not know the stable ReplicaSet's image (a
/// Rollout records only its pod-template hash), so the image to return to comes from git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortPayload {
    pub environment: Environment,
    pub namespace: String,
    pub rollout: String,
    /// The Rollout's revision (annotation `rollout.argoproj.io/revision`) that was aborted.
    pub revision: String,
    /// The canary's image; always has a digest.
    pub aborted_image: ImageRef,
    pub stable_pod_template_hash: String,
    pub canary_pod_template_hash: String,
    /// The newest AnalysisRun of the aborted revision; none when there was none yet.
    pub analysis_run: Option<AnalysisRun>,
    /// RFC 3339, UTC (`YYYY-MM-DDTHH:MM:SSZ`).
    pub aborted_at: String,
}

impl AbortPayload {
    /// Parses and checks a `client_payload` (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        let raw: Raw = serde_json::from_str(json)
            .map_err(|e| format!("not a rollout-aborted payload: {e}"))?;
        let environment = Environment::parse(&raw.environment)?;
        let namespace = format!("greeter-{environment}");
        if raw.namespace != namespace {
            return Err(format!(
                "namespace `{}` is not {environment}'s (`{namespace}`)",
                raw.namespace
            ));
        }
        if raw.rollout != ROLLOUT {
            return Err(format!(
                "Rollout `{}` is not one this repository deploys (`{ROLLOUT}`)",
                raw.rollout
            ));
        }
        let aborted_image =
            ImageRef::parse(&raw.aborted_image).map_err(|e| format!("aborted image: {e}"))?;
        if aborted_image.digest.is_none() {
            return Err(format!(
                "the aborted image {aborted_image} has no digest: nothing to deny (pin {environment} by digest)"
            ));
        }
        if !is_utc_timestamp(&raw.aborted_at) {
            return Err(format!(
                "abortedAt `{}` is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)",
                raw.aborted_at
            ));
        }
        let run = raw.analysis_run;
        let analysis_run = (!run.name.is_empty()).then_some(AnalysisRun {
            name: run.name,
            phase: run.phase,
            message: run.message,
        });
        Ok(Self {
            environment,
            namespace: raw.namespace,
            rollout: raw.rollout,
            revision: raw.revision,
            aborted_image,
            stable_pod_template_hash: raw.stable_pod_template_hash,
            canary_pod_template_hash: raw.canary_pod_template_hash,
            analysis_run,
            aborted_at: raw.aborted_at,
        })
    }

    /// The aborted digest.
    pub fn digest(&self) -> &str {
        self.aborted_image
            .digest
            .as_deref()
            .expect("parse requires a digest")
    }

    /// Why the canary was aborted, as far as the payload tells.
    pub fn reason(&self) -> String {
        match &self.analysis_run {
            Some(run)
                if matches!(run.phase.as_str(), "Failed" | "Error") && !run.message.is_empty() =>
            {
                run.message.clone()
            }
            Some(run) => format!(
                "aborted while AnalysisRun {} was {}",
                run.name,
                if run.phase.is_empty() {
                    "pending"
                } else {
                    &run.phase
                }
            ),
            None => "aborted before any analysis (progress deadline, or by hand)".to_string(),
        }
    }
}

fn is_utc_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 20
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_seconds() {
        assert!(is_utc_timestamp("2026-12-01T09:15:30Z"));
        for bad in [
            "2026-12-01T09:15:30+01:00",
            "2026-12-01 09:15:30Z",
            "2026-12-01T09:15:30.5Z",
            "",
        ] {
            assert!(!is_utc_timestamp(bad), "{bad}");
        }
    }
}
