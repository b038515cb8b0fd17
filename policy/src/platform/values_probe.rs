//! Every key of every values file has an effect. For each leaf (a scalar, a list, an empty map) the
//! chart is rendered again with the key perturbed (a bool flipped, a number +1, a string's last
//! digit +1 or a character appended, a list one element longer); if the output is the same, with
//! the key removed; if that is the same too, helm ignores the key. A perturbation helm rejects
//! (values.schema.json, a template's `fail`) counts as an effect: the chart reads the key.

use super::charts::{self, Request};
use super::renders::ChartRenders;
use super::scratch::Scratch;
use crate::argocd::App;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct ProbeReport {
    pub violations: Vec<String>,
    /// How many renders the probe asked for, and how long it took (renders are cached, so a
    /// repeated run with unchanged inputs takes a fraction of it).
    pub renders: usize,
    pub elapsed: Duration,
}

/// One probe render: a key of one values file, changed or removed (or no key: the control).
struct Probe<'a> {
    app: &'a App,
    /// The values file probed, and its position among the Application's value files.
    file: &'a Path,
    index: usize,
    key: Option<Vec<String>>,
    value_files: Vec<PathBuf>,
    api_versions: &'a [String],
}

/// Probes every key of every chart Application's value files against its steady-state render.
pub fn probe_values(apps: &[App], renders: &ChartRenders, repo_root: &Path) -> ProbeReport {
    let started = Instant::now();
    let mut report = ProbeReport {
        violations: Vec::new(),
        renders: 0,
        elapsed: Duration::ZERO,
    };
    let scratch = match Scratch::new("values-probe") {
        Ok(s) => s,
        Err(e) => {
            report.violations.push(e);
            return report;
        }
    };
    let shown = |file: &Path| {
        file.strip_prefix(repo_root)
            .unwrap_or(file)
            .display()
            .to_string()
    };

    // Round 1: for every values file a control (the file as the probe writes it, unchanged) and
    // one render per key with the key perturbed.
    let mut controls = Vec::new();
    let mut perturbed = Vec::new();
    for app in apps {
        let (Some(chart_app), Some(api_versions)) = (
            renders.apps.get(&app.name),
            renders.steady.api_versions.get(&app.name),
        ) else {
            continue;
        };
        for (index, file) in chart_app.value_files.iter().enumerate() {
            let values = match read_values(file) {
                Ok(values) => values,
                Err(e) => {
                    report.violations.push(format!("{}: {e}", shown(file)));
                    continue;
                }
            };
            let probe = |key: Option<Vec<String>>, content: &Value| {
                write_values(&scratch, content).map(|path| Probe {
                    app,
                    file,
                    index,
                    key,
                    value_files: replaced(&chart_app.value_files, index, path),
                    api_versions,
                })
            };
            match probe(None, &values) {
                Ok(control) => controls.push(control),
                Err(e) => report.violations.push(e),
            }
            for key in leaves(&values) {
                let mut changed = values.clone();
                if let Some(leaf) = pointer_mut(&mut changed, &key) {
                    *leaf = perturb(leaf);
                }
                match probe(Some(key), &changed) {
                    Ok(probe) => perturbed.push(probe),
                    Err(e) => report.violations.push(e),
                }
            }
        }
    }
    let control_count = controls.len();
    let mut round_one = controls;
    round_one.extend(perturbed);
    let Some(digests) = render(&round_one, repo_root, &mut report) else {
        return finish(report, started);
    };
    let (controls, perturbed) = round_one.split_at(control_count);
    let (control_digests, perturbed_digests) = digests.split_at(control_count);
    let control_of = |probe: &Probe| -> Option<&Result<String, String>> {
        controls
            .iter()
            .position(|c| c.app.name == probe.app.name && c.file == probe.file)
            .map(|i| &control_digests[i])
    };
    for (control, digest) in controls.iter().zip(control_digests) {
        let baseline = renders
            .steady
            .outputs
            .get(&control.app.name)
            .map(|o| &o.digest);
        if digest.as_ref().ok() != baseline {
            report.violations.push(format!(
                "{} ({}): rewritten with the same content it renders differently (a YAML 1.1 \
                 value the round trip changes, or a chart that renders differently each time): {}",
                shown(control.file),
                control.app.name,
                digest.as_ref().err().map_or("", String::as_str)
            ));
        }
    }

    // Round 2: keys whose perturbation changed nothing are removed instead.
    let mut removed = Vec::new();
    for (probe, digest) in perturbed.iter().zip(perturbed_digests) {
        let Some(Ok(control)) = control_of(probe) else {
            continue;
        };
        if digest.as_ref().is_ok_and(|d| d == control) {
            let key = probe.key.as_deref().unwrap_or_default();
            let mut values = read_values(probe.file).unwrap_or(Value::Null);
            remove(&mut values, key);
            match write_values(&scratch, &values) {
                Ok(path) => removed.push(Probe {
                    key: probe.key.clone(),
                    value_files: replaced(&probe.value_files, probe.index, path),
                    ..*probe
                }),
                Err(e) => report.violations.push(e),
            }
        }
    }
    let Some(removed_digests) = render(&removed, repo_root, &mut report) else {
        return finish(report, started);
    };
    for (probe, digest) in removed.iter().zip(&removed_digests) {
        let control = control_of(probe).and_then(|c| c.as_ref().ok());
        if digest.as_ref().ok() == control {
            report.violations.push(format!(
                "{} in {} has no effect (Application {}: neither changing nor removing it changes what the chart renders)",
                display_key(probe.key.as_deref().unwrap_or_default()),
                shown(probe.file),
                probe.app.name
            ));
        }
    }
    finish(report, started)
}

fn finish(mut report: ProbeReport, started: Instant) -> ProbeReport {
    report.elapsed = started.elapsed();
    report
}

/// Renders the probes; each result is the output's digest or helm's error. `None` (with a
/// violation) when scripts/charts itself fails.
fn render(
    probes: &[Probe],
    repo_root: &Path,
    report: &mut ProbeReport,
) -> Option<Vec<Result<String, String>>> {
    let requests: Vec<Request> = probes
        .iter()
        .map(|p| Request {
            application: &p.app.object,
            repo_root,
            api_versions: p.api_versions,
            value_files: Some(p.value_files.clone()),
            keep_output: false,
        })
        .collect();
    report.renders += requests.len();
    match charts::render_batch(&requests) {
        Ok(results) => Some(
            results
                .into_iter()
                .map(|r| r.result.map(|o| o.digest))
                .collect(),
        ),
        Err(e) => {
            report.violations.push(e);
            None
        }
    }
}

/// Writes values into a new file of the scratch directory.
fn write_values(scratch: &Scratch, values: &Value) -> Result<PathBuf, String> {
    let path = scratch.new_file("yaml");
    let text = serde_yaml_ng::to_string(values).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The value files with the one at `index` replaced.
fn replaced(files: &[PathBuf], index: usize, by: PathBuf) -> Vec<PathBuf> {
    let mut files = files.to_vec();
    files[index] = by;
    files
}

fn read_values(file: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let values: Value = serde_yaml_ng::from_str(&text).map_err(|e| e.to_string())?;
    if values.is_object() {
        Ok(values)
    } else {
        Err("a values file must be a map".into())
    }
}

/// Paths of every leaf: a value that is not a non-empty map.
fn leaves(values: &Value) -> Vec<Vec<String>> {
    match values.as_object().filter(|m| !m.is_empty()) {
        None => vec![Vec::new()],
        Some(map) => map
            .iter()
            .flat_map(|(key, value)| {
                leaves(value).into_iter().map(move |mut path| {
                    path.insert(0, key.clone());
                    path
                })
            })
            .collect(),
    }
}

fn pointer_mut<'a>(values: &'a mut Value, key: &[String]) -> Option<&'a mut Value> {
    key.iter()
        .try_fold(values, |value, part| value.as_object_mut()?.get_mut(part))
}

fn remove(values: &mut Value, key: &[String]) {
    if let Some((last, parent)) = key.split_last() {
        if let Some(map) = pointer_mut(values, parent).and_then(Value::as_object_mut) {
            map.remove(last);
        }
    }
}

/// A different value of the same kind (so a chart reading it renders something else).
fn perturb(value: &Value) -> Value {
    match value {
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => json!(i + 1),
            (None, Some(f)) => json!(f + 1.0),
            _ => json!(1),
        },
        Value::String(s) => Value::String(bump_last_digit(s).unwrap_or_else(|| format!("{s}x"))),
        Value::Array(items) => {
            let mut longer = items.clone();
            longer.push(items.last().cloned().unwrap_or(json!("probe")));
            Value::Array(longer)
        }
        Value::Object(_) => Value::Object(Map::from_iter([("probe".into(), json!("probe"))])),
        Value::Null => json!("probe"),
    }
}

/// "50Gi" → "51Gi", "v1.9" → "v1.0": a string still of its format (a quantity, a duration).
fn bump_last_digit(s: &str) -> Option<String> {
    let (index, digit) = s.char_indices().rev().find(|(_, c)| c.is_ascii_digit())?;
    let next = char::from_digit((digit.to_digit(10)? + 1) % 10, 10)?;
    let mut bumped = s.to_string();
    bumped.replace_range(index..index + 1, &next.to_string());
    Some(bumped)
}

/// `a.b."c.d/e"`: a values key as a path, quoting parts that contain dots or slashes.
fn display_key(key: &[String]) -> String {
    key.iter()
        .map(|part| {
            if part.contains(['.', '/', ' ']) {
                format!("{part:?}")
            } else {
                part.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}
