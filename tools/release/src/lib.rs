//! Release automation: image bumps, promotions and rendered diffs of the Kustomize overlays.
//! The binaries behind `scripts/bump-image`, `scripts/promote` and `scripts/render-diff` are thin
//! argument parsers over these modules.

pub mod bump;
pub mod environment;
pub mod git;
pub mod image_ref;
pub mod kustomize;
pub mod overlay;
pub mod promote;
pub mod render_diff;
pub mod workflow_policy;
