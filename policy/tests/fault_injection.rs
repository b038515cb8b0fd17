//! No environment fails on purpose: the fault injection settings (`FAULT_*`, docs/configuration.md
//! "Fault injection") appear nowhere in what Argo CD syncs for the greeter, the Applications the
//! greeter ApplicationSet generates from deploy/overlays/* and everything their overlays render,
//! nor in the TOML layers the image ships. Game days set them on a release under test only.
//! Every way a setting could reach the service is shown caught on a mutated copy of the render.

use policy::argocd::{self, App, THIS_REPO};
use policy::deploy::{config, Env, ROLLOUT, SYNTHETIC_TRAFFIC_TEMPLATE};
use policy::objects::{find_mut, id};
use policy::{render, repo_root};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::OnceLock;

/// What the fault settings' names start with, in any case (the TOML layers use lower case).
const PREFIX: &str = "FAULT_";

/// What Argo CD syncs for one environment: its Application and what the overlay it points at
/// renders.
#[derive(Clone)]
struct Synced {
    app: App,
    objects: Vec<Value>,
}

/// Every Application with an overlay of this repository as its source (argocd/ rendered and
/// expanded as Argo CD does, each overlay rendered once per test binary).
fn environments() -> &'static [Synced] {
    static SYNCED: OnceLock<Vec<Synced>> = OnceLock::new();
    SYNCED.get_or_init(|| {
        let (apps, violations) =
            argocd::expand_applications(&render(&repo_root().join("argocd")), &repo_root());
        assert!(
            violations.is_empty(),
            "argocd/ does not expand: {violations:#?}"
        );
        apps.into_iter()
            .filter_map(|app| {
                let path = overlay_path(&app)?;
                let objects = render(&repo_root().join(path));
                Some(Synced { app, objects })
            })
            .collect()
    })
}

/// The overlay an Application syncs, if its source is one.
fn overlay_path(app: &App) -> Option<String> {
    app.sources()
        .into_iter()
        .filter(|source| source["repoURL"] == THIS_REPO)
        .filter_map(|source| source["path"].as_str())
        .find(|path| path.starts_with("deploy/overlays/"))
        .map(str::to_string)
}

fn synced(env: Env) -> &'static Synced {
    let path = format!("deploy/overlays/{}", env.name());
    environments()
        .iter()
        .find(|synced| overlay_path(&synced.app).as_deref() == Some(path.as_str()))
        .unwrap_or_else(|| panic!("no Application syncs {path}"))
}

/// The fault settings `text` names: words that start with `PREFIX`, in any case, a word starting
/// after anything but a letter, a digit or `_` (so `DEFAULT_X` names none).
fn fault_names(text: &str) -> Vec<&str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let upper = text.to_ascii_uppercase();
    upper
        .match_indices(PREFIX)
        .filter(|(start, _)| !upper[..*start].ends_with(word))
        .map(|(start, _)| {
            let end = text[start..]
                .find(|c| !word(c))
                .map_or(text.len(), |n| start + n);
            &text[start..end]
        })
        .collect()
}

/// Every key and string under `value` that names a fault setting, as "<JSON pointer>: <name>":
/// an env or envFrom prefix, a ConfigMap or Secret key, a TOML layer in a ConfigMap, a patch.
fn fault_settings(value: &Value, pointer: &str, found: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            found.extend(fault_names(text).iter().map(|n| format!("{pointer}: {n}")));
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                fault_settings(item, &format!("{pointer}/{index}"), found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let at = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                found.extend(fault_names(key).iter().map(|n| format!("{at}: {n}")));
                fault_settings(item, &at, found);
            }
        }
        _ => {}
    }
}

/// The fault settings in an environment's Application and in everything its overlay renders.
fn fault_injection(synced: &Synced) -> Vec<String> {
    let mut found = Vec::new();
    let objects = std::iter::once(&synced.app.object).chain(&synced.objects);
    for object in objects {
        let mut settings = Vec::new();
        fault_settings(object, "", &mut settings);
        found.extend(
            settings
                .iter()
                .map(|s| format!("{}: {} {s}", synced.app.name, id(object))),
        );
    }
    found
}

/// The fault settings in the TOML layers of a config directory (the image's /etc/greeter).
fn fault_injection_in_layers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        found.extend(
            fault_names(&text)
                .iter()
                .map(|name| format!("{}: {name}", path.display())),
        );
    }
    found
}

/// The service's fault settings, from the list of variables it reads
/// (service/src/configuration.rs `VARIABLES`): the mutations below use the real names.
fn service_fault_variables() -> Vec<String> {
    let path = repo_root().join("service/src/configuration.rs");
    let source = std::fs::read_to_string(&path).expect("service/src/configuration.rs");
    let (_, list) = source
        .split_once("pub const VARIABLES: &[&str] = &[")
        .expect("configuration.rs declares VARIABLES");
    let (list, _) = list.split_once("];").expect("VARIABLES ends");
    let names: Vec<String> = list
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|name| name.starts_with(PREFIX))
        .map(str::to_string)
        .collect();
    assert!(!names.is_empty(), "the service reads no {PREFIX}* variable");
    names
}

#[track_caller]
fn assert_caught(found: &[String], expected: &str) {
    assert!(
        found.iter().any(|f| f.contains(expected)),
        "expected a fault setting containing {expected:?}, got {found:#?}"
    );
}

#[test]
fn no_environment_sets_a_fault() {
    // Not vacuous: every environment is among them.
    for env in Env::ALL {
        synced(env);
    }
    for environment in environments() {
        assert_eq!(fault_injection(environment), Vec::<String>::new());
    }
}

#[test]
fn the_image_config_layers_set_no_fault() {
    let layers = repo_root().join("service/config");
    assert_eq!(fault_injection_in_layers(&layers), Vec::<String>::new());

    let copy = std::env::temp_dir().join(format!("greeter-fault-layers-{}", std::process::id()));
    std::fs::create_dir_all(&copy).expect("temp dir");
    let key = service_fault_variables()[0].to_lowercase();
    std::fs::write(copy.join("prod.toml"), format!("{key} = \"1\"\n")).expect("write layer");
    let found = fault_injection_in_layers(&copy);
    let _ = std::fs::remove_dir_all(&copy);
    assert_caught(&found, &format!("prod.toml: {key}"));
}

/// Each way a fault setting reaches the service (or anything else synced), on copies of dev.
#[test]
fn a_fault_setting_anywhere_is_caught() {
    let variables = service_fault_variables();
    let (first, last) = (&variables[0], &variables[variables.len() - 1]);
    let dev = synced(Env::Dev);
    let broken = |change: &dyn Fn(&mut Synced)| {
        let mut copy = dev.clone();
        change(&mut copy);
        fault_injection(&copy)
    };

    // An environment variable of the greeter container.
    let found = broken(&|s| {
        let rollout = find_mut(&mut s.objects, "Rollout", ROLLOUT).expect("Rollout");
        rollout["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .expect("env")
            .push(json!({"name": first, "value": "1"}));
    });
    assert_caught(
        &found,
        "greeter-dev: Rollout/greeter /spec/template/spec/containers/0/env/",
    );
    assert_caught(&found, &format!("/name: {first}"));

    // A key of the ConfigMap the Rollout reads its settings from.
    let found = broken(&|s| {
        let name = config::config_map(&s.objects)
            .map(|cm| cm["metadata"]["name"].clone())
            .expect("greeter ConfigMap");
        let cm = s
            .objects
            .iter_mut()
            .find(|o| o["metadata"]["name"] == name)
            .expect("ConfigMap");
        cm["data"][last] = json!("300");
    });
    assert_caught(&found, "ConfigMap/greeter-config-");
    assert_caught(&found, &format!("/data/{last}: {last}"));

    // envFrom with a prefix: the ConfigMap's keys need not name the setting themselves.
    let found = broken(&|s| {
        let rollout = find_mut(&mut s.objects, "Rollout", ROLLOUT).expect("Rollout");
        rollout["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            .as_array_mut()
            .expect("envFrom")
            .push(json!({"prefix": PREFIX, "configMapRef": {"name": "game-day"}}));
    });
    assert_caught(&found, &format!("/prefix: {PREFIX}"));

    // A TOML layer in a ConfigMap (mounted as the config directory): lower-case keys.
    let key = first.to_lowercase();
    let found = broken(&|s| {
        s.objects.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "greeter-layers"},
            "data": {"dev.toml": format!("greeting = \"hi\"\n{key} = 1\n")},
        }));
    });
    assert_caught(
        &found,
        &format!("ConfigMap/greeter-layers /data/dev.toml: {key}"),
    );

    // Any workload, not only the Rollout: the analysis Job's container.
    let found = broken(&|s| {
        let template = find_mut(
            &mut s.objects,
            "AnalysisTemplate",
            SYNTHETIC_TRAFFIC_TEMPLATE,
        )
        .expect("synthetic traffic template");
        let container = template
            .pointer_mut("/spec/metrics/0/provider/job/spec/template/spec/containers/0")
            .expect("the Job's container");
        container["env"] = json!([{"name": first, "value": "1"}]);
    });
    assert_caught(
        &found,
        &format!("AnalysisTemplate/{SYNTHETIC_TRAFFIC_TEMPLATE} /spec/metrics/0/provider/job"),
    );

    // A kustomize patch in the Application itself: Argo CD applies it on top of the overlay.
    let found = broken(&|s| {
        s.app.object["spec"]["source"]["kustomize"] = json!({"patches": [{
            "target": {"kind": "Rollout", "name": ROLLOUT},
            "patch": format!("- op: add\n  path: /spec/template/spec/containers/0/env/-\n  value: {{name: {first}, value: \"1\"}}\n"),
        }]});
    });
    assert_caught(
        &found,
        &format!(
            "greeter-dev: Application/greeter-dev /spec/source/kustomize/patches/0/patch: {first}"
        ),
    );

    // Look-alikes are not fault settings: the service reads no such variable.
    let found = broken(&|s| {
        let rollout = find_mut(&mut s.objects, "Rollout", ROLLOUT).expect("Rollout");
        rollout["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .expect("env")
            .extend([
                json!({"name": "DEFAULT_TIMEOUT", "value": "1"}),
                json!({"name": format!("NO_{first}"), "value": "1"}),
            ]);
    });
    assert_eq!(found, Vec::<String>::new());
}
