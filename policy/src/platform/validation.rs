//! Every chart render validated strictly, as everything else Argo CD syncs is: `scripts/validate
//! --rendered` (built-in kinds with kubernetes-validate --strict, custom resources against
//! schemas/crds; a kind with no schema fails).

use super::renders::ChartRenders;
use super::scratch::Scratch;
use crate::repo_root;
use std::collections::BTreeSet;
use std::process::Command;

/// Validates both passes' renders (a render identical in both passes once). `Ok` with the
/// validator's report, or `Err` with it.
pub fn validate(renders: &ChartRenders) -> Result<String, String> {
    let scratch = Scratch::new("chart-renders")?;
    let mut files = Vec::new();
    let apps: BTreeSet<&String> = renders
        .first_sync
        .outputs
        .keys()
        .chain(renders.steady.outputs.keys())
        .collect();
    for app in apps {
        let mut digests = BTreeSet::new();
        for (pass, outputs) in [
            ("first-sync", &renders.first_sync.outputs),
            ("steady", &renders.steady.outputs),
        ] {
            let Some(output) = outputs.get(app).filter(|o| digests.insert(&o.digest)) else {
                continue;
            };
            let path = output.path.as_ref().ok_or("render not kept")?;
            let link = scratch.path().join(format!("{app}.{pass}.yaml"));
            std::os::unix::fs::symlink(path, &link)
                .map_err(|e| format!("{}: {e}", link.display()))?;
            files.push(link);
        }
    }
    let output = Command::new(repo_root().join("scripts/validate"))
        .arg("--rendered")
        .args(&files)
        .output()
        .map_err(|e| format!("cannot run scripts/validate: {e}"))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(report)
    } else {
        Err(report)
    }
}
