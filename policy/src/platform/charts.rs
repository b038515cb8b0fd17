//! Renders chart Applications through `scripts/charts render-batch`, which owns the exact
//! `helm template` arguments Argo CD v3.5.1 builds, runs the renders in parallel and caches them by
//! the hash of everything helm reads.

use crate::{parse_documents, repo_root};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A chart Application as `scripts/charts` renders it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartApp {
    pub name: String,
    pub chart: String,
    pub version: String,
    /// Its value files, in order, as absolute paths.
    pub value_files: Vec<PathBuf>,
}

/// One render: an Application (as the model has it) against a cluster serving `api_versions`.
pub struct Request<'a> {
    pub application: &'a Value,
    /// Where the Application's `$ref/...` value files live.
    pub repo_root: &'a Path,
    pub api_versions: &'a [String],
    /// Replaces the Application's own value files (a values probe); `None` renders it as declared.
    pub value_files: Option<Vec<PathBuf>>,
    /// Whether the caller reads the rendered objects (otherwise only their digest is kept).
    pub keep_output: bool,
}

/// What helm produced: the digest of its output (and the output, if asked for), or its error.
#[derive(Debug, Clone)]
pub struct Render {
    pub app: Option<ChartApp>,
    pub result: Result<Output, String>,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub digest: String,
    pub path: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Response {
    app: Option<ChartApp>,
    ok: bool,
    digest: Option<String>,
    output: Option<PathBuf>,
    error: Option<String>,
}

/// Renders every request (in parallel, cached); one result per request, in order. `Err` when
/// `scripts/charts` itself cannot run.
pub fn render_batch(requests: &[Request]) -> Result<Vec<Render>, String> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let body: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "application": r.application,
                "repoRoot": r.repo_root,
                "apiVersions": r.api_versions,
                "valueFiles": r.value_files,
                "keepOutput": r.keep_output,
            })
        })
        .collect();
    let mut child = Command::new(repo_root().join("scripts/charts"))
        .arg("render-batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run scripts/charts: {e}"))?;
    // It reads all of its input before it writes anything, so writing first cannot deadlock.
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(Value::Array(body).to_string().as_bytes())
        .map_err(|e| format!("cannot write to scripts/charts: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("scripts/charts render-batch: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/charts render-batch failed:\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let responses: Vec<Response> = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("scripts/charts render-batch printed no results: {e}"))?;
    Ok(responses
        .into_iter()
        .map(|r| Render {
            app: r.app,
            result: match (r.ok, r.digest) {
                (true, Some(digest)) => Ok(Output {
                    digest,
                    path: r.output,
                }),
                _ => Err(r.error.unwrap_or_else(|| "no result".into())),
            },
        })
        .collect())
}

/// The objects of a kept render.
pub fn objects(output: &Output) -> Result<Vec<Value>, String> {
    let path = output
        .path
        .as_ref()
        .ok_or("the render was not kept (keep_output: false)")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_documents(&text).map_err(|e| format!("{}: {e}", path.display()))
}
