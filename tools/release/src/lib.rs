//! Release automation: image bumps, promotions and rendered diffs of the Kustomize overlays.
