//! Release automation: image bumps, promotions and rendered diffs of the Kustomize overlays.
//! The binaries behind `scripts/bump-image`, `scripts/promote` and `scripts/render-diff` are thin
//! argument parsers over these modules. The rules the release machinery relies on (workflows,
//! CODEOWNERS, the GitHub Apps' permissions, base image pins) are checked here too
//! (tests/workflows.rs, tests/github_settings.rs).

pub mod base_images;
pub mod bump;
pub mod codeowners;
pub mod environment;
pub mod git;
pub mod github_apps;
pub mod image_ref;
pub mod kustomize;
pub mod kustomize_inputs;
pub mod overlay;
pub mod promote;
pub mod render_diff;
pub mod workflow_policy;
