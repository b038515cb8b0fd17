//! The platform as Argo CD deploys it, from real renders: every chart Application rendered by
//! `scripts/charts` exactly as Argo CD v3.5.1 renders it — on the first sync of an empty cluster
//! and at steady state — together with what the in-repo sources render, every object placed in the
//! sync order; and the checks over that: every kind served when its wave applies it, every object
//! valid, every ConfigMap/Secret a workload needs delivered no later than the workload, every
//! values key with an effect.

mod api_versions;
mod charts;
mod consumers;
mod delivery;
mod gateway;
mod placement;
mod producers;
mod renders;
mod scratch;
mod served;
mod validation;
mod values_probe;

pub use gateway::{control_plane, traffic_router};
pub use renders::{is_chart_app, ChartRenders, Pass};
pub use validation::validate;
pub use values_probe::{probe_values, ProbeReport};

use crate::argocd::{App, Rendered};
use placement::{place, Placed};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// What every Application applies, on the first sync and at steady state.
pub struct Platform {
    pub charts: ChartRenders,
    /// In-repo and chart renders of every Application on the first sync of an empty cluster.
    pub first_sync: Rendered,
    /// The same once every CRD exists.
    pub steady: Rendered,
}

/// Renders every chart Application of `apps` (argocd/ is `root_objects`; `in_repo` what the
/// Applications' in-repo sources render) in both passes.
pub fn render(
    apps: &[App],
    root_objects: &[Value],
    in_repo: &Rendered,
    repo_root: &Path,
) -> Platform {
    let charts = renders::render_charts(apps, root_objects, in_repo, repo_root);
    Platform {
        first_sync: renders::merged(in_repo, &charts.first_sync.rendered),
        steady: renders::merged(in_repo, &charts.steady.rendered),
        charts,
    }
}

impl Platform {
    /// Both passes, each placed in the sync order.
    fn passes<'a>(&'a self, apps: &'a [App], root_objects: &'a [Value]) -> [Vec<Placed<'a>>; 2] {
        [
            place(apps, root_objects, &self.first_sync),
            place(apps, root_objects, &self.steady),
        ]
    }

    /// Objects whose kind is not served when their wave applies them (in either pass).
    pub fn unserved_kinds(&self, apps: &[App], root_objects: &[Value]) -> Vec<String> {
        let passes = self.passes(apps, root_objects);
        unique(passes.iter().flat_map(|placed| {
            served::unserved_kinds(placed, &self.charts.builtin, &self.charts.argo_cd)
        }))
    }

    /// What only the steady state (+) or only the first sync (-) applies. Argo CD re-renders when
    /// the cluster's API versions change, so these arrive (or go) on the next sync.
    pub fn first_sync_differences(&self, apps: &[App], root_objects: &[Value]) -> Vec<String> {
        let [first, steady] = self.passes(apps, root_objects);
        served::kind_differences(&first, &steady)
    }

    /// The convergence check (delivery.rs), on both passes.
    pub fn undelivered(&self, apps: &[App], root_objects: &[Value]) -> Vec<String> {
        let passes = self.passes(apps, root_objects);
        unique(
            passes
                .iter()
                .flat_map(|placed| delivery::undelivered(placed)),
        )
    }

    /// Entries of the runtime Secret allowlist whose creator is gone or whose Secret nothing needs.
    pub fn unused_runtime_secrets(&self, apps: &[App], root_objects: &[Value]) -> Vec<String> {
        let passes = self.passes(apps, root_objects);
        unique(
            passes
                .iter()
                .flat_map(|placed| delivery::stale_runtime_secrets(placed)),
        )
    }
}

fn unique(violations: impl Iterator<Item = String>) -> Vec<String> {
    violations.collect::<BTreeSet<_>>().into_iter().collect()
}
