//! Release automation: image bumps, promotions, rendered diffs of the Kustomize overlays, and
//! reverts after an aborted canary with the deny-list they feed. The binaries behind
//! `scripts/bump-image`, `scripts/promote`, `scripts/render-diff` and `scripts/revert` are thin
//! argument parsers over these modules. The rules the release machinery relies on (workflows,
//! CODEOWNERS, the GitHub Apps' permissions, base image pins) are checked here too
//! (tests/workflows.rs, tests/github_settings.rs).

pub mod abort_cause;
pub mod abort_payload;
pub mod base_images;
pub mod bump;
pub mod codeowners;
pub mod deny_list;
pub mod environment;
pub mod git;
pub mod github_apps;
pub mod image_ref;
pub mod kustomize;
pub mod kustomize_inputs;
pub mod overlay;
pub mod promote;
pub mod render_diff;
pub mod revert;
pub mod workflow_policy;
