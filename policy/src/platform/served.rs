//! Every object's kind exists when its wave applies it: a CRD from a strictly earlier wave is in
//! place (the root waits for each wave to be Healthy), one of another Application in the same wave
//! is not; inside one sync, a wave applies its CRDs before the rest.

use super::api_versions::{served_by, type_of};
use super::placement::Placed;
use crate::objects::{id, kind};
use std::collections::BTreeSet;

/// Objects whose kind is neither built in, nor one of Argo CD's, nor served by a CRD of the same
/// Application or of a strictly earlier wave.
pub fn unserved_kinds(
    placed: &[Placed],
    builtin: &BTreeSet<String>,
    argo_cd: &BTreeSet<String>,
) -> Vec<String> {
    let crds: Vec<(&Placed, BTreeSet<String>)> = placed
        .iter()
        .filter(|p| kind(p.obj) == "CustomResourceDefinition")
        .map(|p| (p, served_by(p.obj)))
        .collect();
    let mut violations = Vec::new();
    for object in placed {
        let object_type = type_of(object.obj);
        if builtin.contains(&object_type) || argo_cd.contains(&object_type) {
            continue;
        }
        let providers: Vec<&Placed> = crds
            .iter()
            .filter(|(_, served)| served.contains(&object_type))
            .map(|(crd, _)| *crd)
            .collect();
        // Inside one sync a wave applies CRDs before the rest (no later stage is needed).
        let in_time = |crd: &&Placed| {
            if crd.unit == object.unit {
                crd.stage <= object.stage
            } else {
                crd.wave < object.wave
            }
        };
        if providers.iter().any(in_time) {
            continue;
        }
        violations.push(match providers.first() {
            None => format!("{}: no CRD serves {object_type}", object.describe()),
            Some(crd) => format!(
                "{} (wave {}): {object_type} is served only from wave {} on ({})",
                object.describe(),
                object.wave,
                crd.wave,
                crd.describe()
            ),
        });
    }
    violations
}

/// What changes between two renders of the same Applications, as "Application: +Kind/name"
/// (only in `after`) and "-Kind/name" (only in `before`).
pub fn kind_differences(before: &[Placed], after: &[Placed]) -> Vec<String> {
    let ids = |placed: &[Placed]| -> BTreeSet<(String, String)> {
        placed
            .iter()
            .map(|p| (p.unit.to_string(), format!("{} {}", p.namespace, id(p.obj))))
            .collect()
    };
    let (before, after) = (ids(before), ids(after));
    let added = after
        .difference(&before)
        .map(|(unit, what)| format!("{unit}: +{what}"));
    let removed = before
        .difference(&after)
        .map(|(unit, what)| format!("{unit}: -{what}"));
    added.chain(removed).collect()
}
