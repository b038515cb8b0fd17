//! Secret rotation without a restart: the secret files (`SECRETS_DIR`) are polled, and a changed
//! set is validated exactly like at startup, then applied whole; a set that fails validation is
//! refused and the last good one stays in use.
//!
//! Polling, not inotify: the kubelet updates a mounted Secret by writing a new timestamped
//! directory and renaming a `..data` symlink over the old one, so a watch on the files never
//! fires (it stays on the old inode) and one on the directory has to know that layout. Reading
//! four small files every few seconds needs no dependency, sees any writer that replaces files
//! atomically, and adds little to the kubelet's own delay (its sync period, about a minute).

use tokio::time::MissedTickBehavior;

use crate::configuration::{Fingerprint, SecretFiles, SecretSettings, SecretValues};
use crate::metrics::SecretsMetrics;

/// Polls `files` for ever; `apply` puts a validated set in use.
pub async fn watch(
    files: SecretFiles,
    metrics: SecretsMetrics,
    apply: impl Fn(&SecretSettings) -> Result<(), String>,
) {
    let mut in_use = files.loaded.clone();
    // What the files held at the last poll: a change is acted on once, not at every poll.
    let mut seen: Result<Fingerprint, String> = Ok(in_use.clone());
    let mut ticks = tokio::time::interval(files.poll_interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks.tick().await; // immediate: startup has just read them
    loop {
        ticks.tick().await;
        let read = files.read();
        let now = read
            .as_ref()
            .map(SecretValues::fingerprint)
            .map_err(ToString::to_string);
        if now == seen {
            continue;
        }
        seen = now;
        if seen.as_ref() == Ok(&in_use) {
            // Back to the secrets in use (a refused or unreadable set was reverted).
            metrics.last_reload_successful.set(1);
            continue;
        }
        let applied = read
            .and_then(|values| Ok((values.fingerprint(), files.parse(&values)?)))
            .map_err(|e| e.to_string())
            .and_then(|(fingerprint, settings)| apply(&settings).map(|()| fingerprint));
        match applied {
            Ok(fingerprint) => {
                let changed = in_use.changed(&fingerprint);
                in_use = fingerprint;
                metrics.applied.inc();
                metrics.last_reload_successful.set(1);
                tracing::info!(?changed, "secret files changed: the new secrets are in use");
            }
            Err(error) => {
                metrics.rejected.inc();
                metrics.last_reload_successful.set(0);
                tracing::error!(%error, "secret files refused: the last good secrets stay in use");
            }
        }
    }
}
