//! The convergence check: every ConfigMap and Secret a workload needs is delivered no later than
//! the workload. Each wave of the root Application waits until everything in it is Healthy
//! (argocd/config/argocd-cm.yaml restores Application health), and a pod waiting for a missing
//! ConfigMap or Secret never is: if what it needs only arrives in a later wave, the first sync
//! never gets there. Inside one Application the same holds for its phases and waves.

use super::consumers::{needs, Need};
use super::placement::Placed;
use super::producers::{supplies, unused_runtime_secrets, Supply};
use std::collections::BTreeSet;

/// Whether `supply` exists by the time `consumer` is applied and waited for.
fn in_time(supply: &Supply, consumer: &Placed) -> bool {
    let by = supply.by;
    if by.deleted_after_success
        && !supply.outlives_hook
        && (by.unit, by.stage.0) != (consumer.unit, consumer.stage.0)
    {
        return false;
    }
    if by.unit == consumer.unit {
        by.stage <= consumer.stage
    } else {
        by.wave <= consumer.wave
    }
}

/// Every need that nothing delivers, that is delivered only after its consumer, or whose keys
/// are missing.
pub fn undelivered(placed: &[Placed]) -> Vec<String> {
    let supplied = supplies(placed);
    placed
        .iter()
        .flat_map(|consumer| {
            needs(consumer.obj)
                .into_iter()
                .map(move |need| (consumer, need))
        })
        .filter_map(|(consumer, need)| unmet(&need, consumer, &supplied))
        .collect()
}

/// Runtime Secret entries that no longer describe the platform (see `producers::RUNTIME_SECRETS`).
pub fn stale_runtime_secrets(placed: &[Placed]) -> Vec<String> {
    let needed: BTreeSet<(String, String)> = placed
        .iter()
        .flat_map(|consumer| {
            needs(consumer.obj)
                .into_iter()
                .map(|need| (consumer.namespace.to_string(), need.name))
        })
        .collect();
    unused_runtime_secrets(placed, &needed)
}

fn unmet(need: &Need, consumer: &Placed, supplied: &[Supply]) -> Option<String> {
    let wanted = format!("{} {}/{}", need.kind, consumer.namespace, need.name);
    let at = format!(
        "{} (wave {}, {})",
        consumer.describe(),
        consumer.wave,
        need.via
    );
    let candidates: Vec<&Supply> = supplied
        .iter()
        .filter(|s| {
            s.kind == need.kind && s.name == need.name && s.by.namespace == consumer.namespace
        })
        .collect();
    let timely: Vec<&&Supply> = candidates.iter().filter(|s| in_time(s, consumer)).collect();
    if candidates.is_empty() {
        return Some(format!("{at} needs {wanted}, which nothing delivers"));
    }
    if timely.is_empty() {
        let late = candidates
            .iter()
            .map(|s| {
                let (phase, wave) = s.by.stage;
                if s.by.unit == consumer.unit {
                    format!("{} ({phase:?}, wave {wave})", s.by.describe())
                } else {
                    format!("{} at wave {}", s.by.describe(), s.by.wave)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Some(format!(
            "{at} needs {wanted}, which arrives only later: {late}"
        ));
    }
    let has_key = |key: &String| {
        timely
            .iter()
            .any(|s| s.keys.as_ref().is_none_or(|k| k.contains(key)))
    };
    let missing: Vec<&String> = need.keys.iter().filter(|k| !has_key(k)).collect();
    if missing.is_empty() {
        return None;
    }
    let delivered = timely
        .iter()
        .map(|s| {
            let keys = s
                .keys
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            format!("{} has [{keys}]", s.by.describe())
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!(
        "{at} needs key {missing:?} of {wanted}: {delivered}"
    ))
}
