//! Where Applications get their manifests: this repository at the deploy branch, a Helm chart at
//! an exact version, or the git repository of a pinned upstream component at exactly its pinned
//! tag; in-repo and upstream paths that exist and render.

use super::model::{name, of_kind, render_dir, str_at, App, Rendered};
use super::{DEPLOY_BRANCH, THIS_REPO};
use crate::upstream;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Every non-Helm source (and every ApplicationSet git generator) reads this repository at the
/// deploy branch — no other git repository, no pinned-elsewhere branch, no `HEAD` — or the git
/// repository of a tools/upstream component at exactly the version that component pins (the tests
/// render its path from the module, see `render_in_repo_sources`).
pub fn source_repos(apps: &[App], objects: &[Value]) -> Vec<String> {
    let mut violations = Vec::new();
    for app in apps {
        for source in app
            .sources()
            .into_iter()
            .filter(|s| s.get("chart").is_none())
        {
            let (repo, revision) = (
                str_at(source, "/repoURL"),
                str_at(source, "/targetRevision"),
            );
            if let Some(component) = upstream::git_source_component(repo) {
                match upstream::pinned_version(component) {
                    Ok(pinned) if pinned == revision => {}
                    Ok(pinned) => violations.push(format!(
                        "{}: git source {repo} at {revision:?} is not the version tools/upstream/{component} pins ({pinned})",
                        app.origin
                    )),
                    Err(e) => violations.push(format!("{}: {e}", app.origin)),
                }
                continue;
            }
            if repo != THIS_REPO {
                violations.push(format!(
                    "{}: git source {repo:?} is not this repository ({THIS_REPO})",
                    app.origin
                ));
            }
            if revision != DEPLOY_BRANCH {
                violations.push(format!(
                    "{}: git source targetRevision {revision:?} is not {DEPLOY_BRANCH:?}",
                    app.origin
                ));
            }
        }
    }
    for appset in of_kind(objects, "ApplicationSet") {
        for git in appset
            .pointer("/spec/generators")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("git"))
        {
            let (repo, revision) = (str_at(git, "/repoURL"), str_at(git, "/revision"));
            if repo != THIS_REPO || revision != DEPLOY_BRANCH {
                violations.push(format!(
                    "ApplicationSet {}: git generator reads {repo:?}@{revision:?}, not {THIS_REPO}@{DEPLOY_BRANCH}",
                    name(appset)
                ));
            }
        }
    }
    violations
}

/// Every Helm chart source pins an exact version: no ranges, wildcards or `HEAD`.
pub fn chart_versions(apps: &[App]) -> Vec<String> {
    apps.iter()
        .flat_map(|app| {
            app.sources()
                .into_iter()
                .filter(|s| s.get("chart").is_some())
                .filter_map(move |source| {
                    let version = str_at(source, "/targetRevision");
                    (!is_exact_version(version)).then(|| {
                        format!(
                            "{}: chart {} version {version:?} is not an exact version",
                            app.origin,
                            str_at(source, "/chart")
                        )
                    })
                })
        })
        .collect()
}

/// `[v]MAJOR.MINOR.PATCH[-prerelease][+build]` with numeric core parts, as a Helm chart version.
pub fn is_exact_version(version: &str) -> bool {
    let version = version.strip_prefix('v').unwrap_or(version);
    let core = version.split(['-', '+']).next().unwrap_or("");
    let suffix = &version[core.len()..];
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
        && !suffix.ends_with(['-', '+', '.'])
}

/// Renders every `path` source as Argo CD would: in this repository, and in the git repository of a
/// pinned upstream component, from that component's module source (the tree of the pinned tag).
/// Violations: a path that is missing, is not a kustomization (Argo CD would apply raw files nobody
/// validated), or does not render; a `$ref/...` Helm value file in this repository that does not
/// exist.
pub fn render_in_repo_sources(apps: &[App], repo_root: &Path) -> (Rendered, Vec<String>) {
    let mut rendered = Rendered::new();
    let mut violations = Vec::new();
    for app in apps {
        let sources = app.sources();
        for source in &sources {
            let Some(component) = upstream::git_source_component(str_at(source, "/repoURL")) else {
                continue;
            };
            let path = str_at(source, "/path");
            match upstream::source_dir(component).and_then(|dir| render_dir(&dir.join(path))) {
                Ok(objects) => rendered
                    .entry(app.name.clone())
                    .or_default()
                    .extend(objects),
                Err(e) => violations.push(format!(
                    "{}: path {path:?} of tools/upstream/{component} does not render: {e}",
                    app.origin
                )),
            }
        }
        for source in sources
            .iter()
            .filter(|s| str_at(s, "/repoURL") == THIS_REPO)
        {
            if let Some(path) = source.get("path").and_then(Value::as_str) {
                let dir = repo_root.join(path);
                if !dir.join("kustomization.yaml").is_file() {
                    violations.push(format!(
                        "{}: source path {path:?} has no kustomization.yaml",
                        app.origin
                    ));
                    continue;
                }
                match render_dir(&dir) {
                    Ok(objects) => rendered
                        .entry(app.name.clone())
                        .or_default()
                        .extend(objects),
                    Err(e) => violations.push(format!(
                        "{}: source path {path:?} does not render: {e}",
                        app.origin
                    )),
                }
            }
        }
        for value_file in sources.iter().flat_map(|s| helm_value_files(s)) {
            let Some((reference, file)) =
                value_file.strip_prefix('$').and_then(|v| v.split_once('/'))
            else {
                continue;
            };
            let in_repo = sources
                .iter()
                .any(|s| str_at(s, "/ref") == reference && str_at(s, "/repoURL") == THIS_REPO);
            if in_repo && !repo_root.join(file).is_file() {
                violations.push(format!(
                    "{}: Helm value file {value_file} does not exist",
                    app.origin
                ));
            }
        }
    }
    (rendered, violations)
}

fn helm_value_files(source: &Value) -> impl Iterator<Item = &str> {
    source
        .pointer("/helm/valueFiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Every Application reading this repository (a kustomization path, or Helm value files through a
/// `ref` source) declares `argocd.argoproj.io/manifest-generate-paths`, and the paths cover every
/// directory it builds on: a commit there refreshes it, unrelated commits do not.
pub fn manifest_generate_paths(apps: &[App], repo_root: &Path) -> Vec<String> {
    let mut violations = Vec::new();
    for app in apps {
        let sources = app.sources();
        let mut needed = BTreeSet::new();
        let mut app_path = None;
        for source in sources
            .iter()
            .filter(|s| str_at(s, "/repoURL") == THIS_REPO)
        {
            if let Some(path) = source.get("path").and_then(Value::as_str) {
                app_path = Some(path);
                kustomization_dirs(repo_root, &normalize(Path::new(path)), &mut needed);
            }
        }
        for value_file in sources.iter().flat_map(|s| helm_value_files(s)) {
            let Some((reference, file)) =
                value_file.strip_prefix('$').and_then(|v| v.split_once('/'))
            else {
                continue;
            };
            if sources
                .iter()
                .any(|s| str_at(s, "/ref") == reference && str_at(s, "/repoURL") == THIS_REPO)
            {
                needed.insert(normalize(Path::new(file).parent().unwrap_or(Path::new(""))));
            }
        }
        if needed.is_empty() {
            continue;
        }
        let Some(annotation) = app.annotation("argocd.argoproj.io/manifest-generate-paths") else {
            violations.push(format!(
                "{}: no argocd.argoproj.io/manifest-generate-paths annotation",
                app.origin
            ));
            continue;
        };
        let watched: Vec<PathBuf> = annotation
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.strip_prefix('/') {
                Some(absolute) => normalize(Path::new(absolute)),
                // Relative paths are relative to the source path (Argo CD ignores them without one).
                None => {
                    app_path.map_or_else(PathBuf::new, |base| normalize(&Path::new(base).join(p)))
                }
            })
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        for dir in needed
            .into_iter()
            .filter(|d| !watched.iter().any(|w| d.starts_with(w)))
        {
            violations.push(format!(
                "{}: manifest-generate-paths {annotation:?} misses {} (the app builds on it)",
                app.origin,
                dir.display()
            ));
        }
    }
    violations
}

/// A kustomization directory (relative to the repo root) and every directory its resources,
/// components and bases reference, transitively.
fn kustomization_dirs(repo_root: &Path, dir: &Path, found: &mut BTreeSet<PathBuf>) {
    if !found.insert(dir.to_path_buf()) {
        return;
    }
    let Ok(text) = std::fs::read_to_string(repo_root.join(dir).join("kustomization.yaml")) else {
        return;
    };
    let Ok(kustomization) = serde_yaml_ng::from_str::<Value>(&text) else {
        return;
    };
    for field in ["resources", "components", "bases"] {
        for entry in kustomization[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let referenced = normalize(&dir.join(entry));
            if repo_root.join(&referenced).is_dir() {
                kustomization_dirs(repo_root, &referenced, found);
            }
        }
    }
}

/// Resolves `.` and `..` lexically (paths relative to the repo root).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            _ => {}
        }
    }
    out
}

/// Every file in a Helm values directory is read by some Application: no dead values that look
/// configured but are not.
pub fn unused_value_files(apps: &[App], repo_root: &Path, values_dir: &str) -> Vec<String> {
    let used: BTreeSet<PathBuf> = apps
        .iter()
        .flat_map(|app| {
            app.sources()
                .into_iter()
                .flat_map(helm_value_files)
                .collect::<Vec<_>>()
        })
        .filter_map(|file| {
            file.strip_prefix('$')?
                .split_once('/')
                .map(|(_, path)| normalize(Path::new(path)))
        })
        .collect();
    let entries = std::fs::read_dir(repo_root.join(values_dir))
        .into_iter()
        .flatten()
        .flatten();
    let mut violations: Vec<String> = entries
        .map(|entry| normalize(&Path::new(values_dir).join(entry.file_name())))
        .filter(|file| !used.contains(file))
        .map(|file| format!("{} is read by no Application", file.display()))
        .collect();
    violations.sort();
    violations
}
