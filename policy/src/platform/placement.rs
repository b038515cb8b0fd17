//! Where every object lands in the first sync of an empty cluster: the root Application applies
//! argocd/ wave by wave (each object at its own `sync-wave`, an Application's objects when that
//! Application's wave comes), and inside one Application's sync, hooks and waves order its objects.

use crate::argocd::{annotation, sync_wave, App, Rendered};
use crate::objects::namespace;
use serde_json::Value;

/// The sync phases that apply objects (argo-cd docs/user-guide/sync-waves.md, resource hooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
}

/// Who applies the objects of argocd/ itself.
pub const ROOT: &str = "argocd/ (root)";

/// An object and when it is applied.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    pub obj: &'a Value,
    /// The Application whose sync applies it, or [`ROOT`].
    pub unit: &'a str,
    /// The root sync wave it arrives in: its own for objects of argocd/, its Application's else.
    pub wave: i64,
    /// Its place inside its unit's sync: phase, then wave.
    pub stage: (Phase, i64),
    /// Its namespace (the Application's destination when the manifest names none).
    pub namespace: &'a str,
    /// A hook deleted once it succeeded: it serves nothing after its own phase.
    pub deleted_after_success: bool,
}

impl Placed<'_> {
    /// "argocd/ (root) ConfigMap/x" or "Application alloy DaemonSet/alloy", for messages.
    pub fn describe(&self) -> String {
        let unit = if self.unit == ROOT {
            ROOT.to_string()
        } else {
            format!("Application {}", self.unit)
        };
        format!("{unit} {}", crate::objects::id(self.obj))
    }
}

/// Every object argocd/ and its Applications apply, placed in the sync order. An app of apps
/// (the root) is represented by `root_objects`, each at its own wave.
pub fn place<'a>(
    apps: &'a [App],
    root_objects: &'a [Value],
    rendered: &'a Rendered,
) -> Vec<Placed<'a>> {
    let mut placed: Vec<Placed> = root_objects
        .iter()
        .filter_map(|obj| {
            let wave = sync_wave(obj).unwrap_or(0);
            let (phase, deleted_after_success) = hook(obj)?;
            Some(Placed {
                obj,
                unit: ROOT,
                wave,
                stage: (phase, wave),
                namespace: namespace(obj),
                deleted_after_success,
            })
        })
        .collect();
    // An app of apps renders Applications: its objects are root_objects, at their own waves.
    let is_app_of_apps = |app: &App| {
        rendered.get(&app.name).is_some_and(|objs| {
            objs.iter()
                .any(|o| crate::objects::kind(o) == "Application")
        })
    };
    for app in apps.iter().filter(|a| !is_app_of_apps(a)) {
        for obj in rendered.get(&app.name).into_iter().flatten() {
            let Some((phase, deleted_after_success)) = hook(obj) else {
                continue;
            };
            let own_namespace = namespace(obj);
            placed.push(Placed {
                obj,
                unit: &app.name,
                wave: app.wave,
                stage: (phase, wave_in_app(obj)),
                namespace: if own_namespace.is_empty() {
                    app.destination_namespace()
                } else {
                    own_namespace
                },
                deleted_after_success,
            });
        }
    }
    placed
}

/// The phase a sync applies an object in (the earliest, for a hook of several), and whether it is
/// deleted after it succeeded; `None` for what a sync never applies (Helm test hooks, delete and
/// SyncFail hooks, `Skip`). Helm hooks map to Argo CD's as argo-cd v3.5.1
/// docs/user-guide/helm.md:506-526 says (unsupported ones are ignored, :773).
fn hook(obj: &Value) -> Option<(Phase, bool)> {
    let (hooks, policy) = match annotation(obj, "argocd.argoproj.io/hook") {
        Some(hooks) => (
            hooks,
            annotation(obj, "argocd.argoproj.io/hook-delete-policy"),
        ),
        None => match annotation(obj, "helm.sh/hook") {
            Some(hooks) if hooks.split(',').any(|h| h.trim() != "crd-install") => {
                (hooks, annotation(obj, "helm.sh/hook-delete-policy"))
            }
            _ => return Some((Phase::Sync, false)),
        },
    };
    let phase = hooks
        .split(',')
        .filter_map(|h| match h.trim() {
            "PreSync" | "pre-install" | "pre-upgrade" => Some(Phase::PreSync),
            "Sync" => Some(Phase::Sync),
            "PostSync" | "post-install" | "post-upgrade" => Some(Phase::PostSync),
            _ => None,
        })
        .min()?;
    let deleted = policy.is_some_and(|p| {
        p.split(',')
            .any(|d| matches!(d.trim(), "HookSucceeded" | "hook-succeeded"))
    });
    Some((phase, deleted))
}

/// An object's wave inside its Application's sync: `sync-wave`, else a Helm hook's weight.
fn wave_in_app(obj: &Value) -> i64 {
    annotation(obj, "argocd.argoproj.io/sync-wave")
        .or_else(|| annotation(obj, "helm.sh/hook-weight"))
        .and_then(|w| w.trim().parse().ok())
        .unwrap_or(0)
}
