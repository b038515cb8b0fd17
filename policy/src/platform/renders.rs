//! Every chart Application rendered twice, with the API versions the cluster serves:
//! - first sync: an empty cluster, where an Application sees the built-in kinds, Argo CD's CRDs
//!   and the CRDs of strictly earlier waves (it is rendered when its wave starts);
//! - steady state: every CRD the platform installs exists (Argo CD renders again when the
//!   cluster's API versions change: they are part of its manifest cache key,
//!   reposerver/cache/cache.go:152-156).

use super::api_versions::{self, served_by_crds};
use super::charts::{self, ChartApp, Output, Request};
use crate::argocd::{sync_wave, App, Rendered};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The chart renders of one pass.
#[derive(Debug, Default)]
pub struct Pass {
    /// Objects by Application name.
    pub rendered: Rendered,
    /// The rendered files, by Application name.
    pub outputs: BTreeMap<String, Output>,
    /// The `--api-versions` each Application was rendered with.
    pub api_versions: BTreeMap<String, Vec<String>>,
}

impl Pass {
    fn extend(&mut self, other: Pass) {
        self.rendered.extend(other.rendered);
        self.outputs.extend(other.outputs);
        self.api_versions.extend(other.api_versions);
    }
}

#[derive(Debug, Default)]
pub struct ChartRenders {
    /// What a default API server serves without any CRD.
    pub builtin: BTreeSet<String>,
    /// What Argo CD's own CRDs serve.
    pub argo_cd: BTreeSet<String>,
    pub first_sync: Pass,
    pub steady: Pass,
    /// The chart Applications, as scripts/charts renders them.
    pub apps: BTreeMap<String, ChartApp>,
    /// Renders that failed, CRDs that never settle, upstream sources that cannot be read.
    pub violations: Vec<String>,
}

/// Whether an Application has a Helm chart source.
pub fn is_chart_app(app: &App) -> bool {
    app.sources().iter().any(|s| s.get("chart").is_some())
}

/// Renders every chart Application at first sync, then at steady state. `in_repo` holds what the
/// Applications' in-repo sources render (their CRDs count too); `root_objects` is argocd/.
pub fn render_charts(
    apps: &[App],
    root_objects: &[Value],
    in_repo: &Rendered,
    repo_root: &Path,
) -> ChartRenders {
    let mut renders = ChartRenders::default();
    let (builtin, argo_cd) = std::thread::scope(|s| {
        let builtin = s.spawn(api_versions::builtin);
        let argo_cd = api_versions::argo_cd();
        (
            builtin
                .join()
                .unwrap_or_else(|_| Err("reading the built-in API versions panicked".into())),
            argo_cd,
        )
    });
    match (builtin, argo_cd) {
        (Ok(builtin), Ok(argo_cd)) => (renders.builtin, renders.argo_cd) = (builtin, argo_cd),
        (builtin, argo_cd) => {
            renders
                .violations
                .extend([builtin.err(), argo_cd.err()].into_iter().flatten());
            return renders;
        }
    }
    let without_crds: BTreeSet<String> = renders.builtin.union(&renders.argo_cd).cloned().collect();
    let chart_apps: Vec<&App> = apps.iter().filter(|a| is_chart_app(a)).collect();
    let mut renderer = Renderer {
        repo_root,
        parsed: BTreeMap::new(),
        renders: &mut renders,
    };

    // First sync, wave by wave: (wave, what it serves) of every CRD source so far, starting with
    // argocd/ itself and the in-repo Applications.
    let mut crd_waves: Vec<(i64, BTreeSet<String>)> = root_objects
        .iter()
        .map(|o| (sync_wave(o).unwrap_or(0), served_by_crds([o])))
        .chain(apps.iter().filter(|a| !is_chart_app(a)).map(|a| {
            (
                a.wave,
                served_by_crds(in_repo.get(&a.name).into_iter().flatten()),
            )
        }))
        .filter(|(_, served)| !served.is_empty())
        .collect();
    let without_charts: BTreeSet<String> = crd_waves
        .iter()
        .flat_map(|(_, s)| s.iter().cloned())
        .chain(without_crds.iter().cloned())
        .collect();
    let waves: BTreeSet<i64> = chart_apps.iter().map(|a| a.wave).collect();
    for wave in waves {
        let mut served = without_crds.clone();
        served.extend(
            crd_waves
                .iter()
                .filter(|(w, _)| *w < wave)
                .flat_map(|(_, s)| s.iter().cloned()),
        );
        let in_wave: Vec<&App> = chart_apps
            .iter()
            .copied()
            .filter(|a| a.wave == wave)
            .collect();
        let pass = renderer.render_pass(&in_wave, &served, "first sync");
        crd_waves.extend(
            pass.rendered
                .values()
                .map(|objects| (wave, served_by_crds(objects))),
        );
        renderer.renders.first_sync.extend(pass);
    }

    // Steady state: every CRD; again until the CRDs the charts render no longer change (a chart
    // may render a CRD only when some API exists).
    let everything = |charts: &Rendered| -> BTreeSet<String> {
        let mut served = without_charts.clone();
        served.extend(served_by_crds(charts.values().flatten()));
        served
    };
    let mut served = everything(&renderer.renders.first_sync.rendered);
    for round in 1.. {
        let pass = renderer.render_pass(&chart_apps, &served, "steady state");
        let next = everything(&pass.rendered);
        renderer.renders.steady = pass;
        if next == served {
            break;
        }
        if round == 3 {
            renderer.renders.violations.push(format!(
                "the CRDs the charts render keep changing with the API versions (3 rounds): {:?}",
                next.symmetric_difference(&served).collect::<Vec<_>>()
            ));
            break;
        }
        served = next;
    }
    renders
}

struct Renderer<'a> {
    repo_root: &'a Path,
    /// The objects of every output seen so far, by digest: most Applications render the same in
    /// both passes, and are parsed once.
    parsed: BTreeMap<String, Vec<Value>>,
    renders: &'a mut ChartRenders,
}

impl Renderer<'_> {
    /// Renders these Applications against a cluster serving `served`.
    fn render_pass(&mut self, apps: &[&App], served: &BTreeSet<String>, label: &str) -> Pass {
        let api_versions: Vec<String> = served.iter().cloned().collect();
        let requests: Vec<Request> = apps
            .iter()
            .map(|app| Request {
                application: &app.object,
                repo_root: self.repo_root,
                api_versions: &api_versions,
                value_files: None,
                keep_output: true,
            })
            .collect();
        let mut pass = Pass::default();
        let results = match charts::render_batch(&requests) {
            Ok(results) => results,
            Err(e) => {
                self.renders.violations.push(e);
                return pass;
            }
        };
        for (app, render) in apps.iter().zip(results) {
            if let Some(chart_app) = render.app {
                self.renders.apps.insert(app.name.clone(), chart_app);
            }
            match render.result.and_then(|output| {
                let objects = self.objects(&output)?;
                Ok((output, objects))
            }) {
                Ok((output, objects)) => {
                    pass.rendered.insert(app.name.clone(), objects);
                    pass.outputs.insert(app.name.clone(), output);
                    pass.api_versions
                        .insert(app.name.clone(), api_versions.clone());
                }
                Err(e) => self.renders.violations.push(format!(
                    "{}: the chart does not render ({label}): {e}",
                    app.origin
                )),
            }
        }
        pass
    }

    fn objects(&mut self, output: &Output) -> Result<Vec<Value>, String> {
        if let Some(objects) = self.parsed.get(&output.digest) {
            return Ok(objects.clone());
        }
        let objects = charts::objects(output)?;
        self.parsed.insert(output.digest.clone(), objects.clone());
        Ok(objects)
    }
}

/// In-repo renders and one pass's chart renders together: everything each Application applies.
pub fn merged(in_repo: &Rendered, charts: &Rendered) -> Rendered {
    let mut all = in_repo.clone();
    for (app, objects) in charts {
        all.entry(app.clone())
            .or_default()
            .extend(objects.iter().cloned());
    }
    all
}
