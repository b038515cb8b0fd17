//! The upstream components the tests build or read (tools/upstream, one Go module each) must be the
//! versions the platform runs: each pin here is derived from the platform's own pin (a chart's
//! appVersion, the Argo CD install the README prescribes, what kubeadm installs with that
//! Kubernetes), so a chart bump that forgets the tests — or the reverse — fails.

use crate::repo_root;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// A component's pinned version and the version the platform says it must be, with where from.
#[derive(Debug)]
pub struct Pin {
    pub component: &'static str,
    pub pinned: String,
    pub expected: String,
    pub because: String,
}

fn script(args: &[&str]) -> String {
    run_script(args).unwrap_or_else(|e| panic!("{e}"))
}

/// The version tools/upstream/<component>/go.mod pins.
pub fn version(component: &str) -> String {
    script(&["upstream", "version", component])
}

/// A file of a component's module source (downloaded from the Go module proxy).
pub fn source_file(component: &str, path: &str) -> String {
    let file = std::path::Path::new(&script(&["upstream", "source", component])).join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The source directory of a component's module (`scripts/upstream source`), or why it is missing.
pub fn source_dir(component: &str) -> Result<PathBuf, String> {
    run_script(&["upstream", "source", component]).map(PathBuf::from)
}

/// The version a component's go.mod pins (`scripts/upstream version`), or why it is unknown.
pub fn pinned_version(component: &str) -> Result<String, String> {
    run_script(&["upstream", "version", component])
}

/// Upstream git repositories an Application may read, each at exactly the tag its component pins:
/// the module zip of a tag is that tag's tree, so the tests render what Argo CD will check out.
pub const GIT_SOURCES: [(&str, &str); 1] = [(
    "https://github.com/kubernetes-sigs/gateway-api.git",
    "gateway-api",
)];

/// The tools/upstream component whose git repository this is, if any.
pub fn git_source_component(repo_url: &str) -> Option<&'static str> {
    GIT_SOURCES
        .iter()
        .find(|(repo, _)| *repo == repo_url)
        .map(|(_, component)| *component)
}

fn run_script(args: &[&str]) -> Result<String, String> {
    let output = Command::new(repo_root().join("scripts").join(args[0]))
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run scripts/{}: {e}", args[0]))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/{} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Chart.yaml of the chart a platform Application pins (fetched like Argo CD would).
pub fn chart_metadata(app: &str) -> Value {
    subchart_metadata(app, "")
}

/// Chart.yaml of a subchart (`charts/NAME/`) of the chart a platform Application pins, or of the
/// chart itself for "".
pub fn subchart_metadata(app: &str, subchart: &str) -> Value {
    let archive = script(&["charts", "fetch", app]);
    let tar = |args: &[&str]| {
        let output = Command::new("tar")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tar: {e}"));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // The chart's own Chart.yaml is the only one at depth 1; a subchart's is <chart>/charts/NAME/.
    let listing = tar(&["-tzf", &archive]);
    let wanted = |entry: &&str| {
        if subchart.is_empty() {
            entry.ends_with("/Chart.yaml") && entry.matches('/').count() == 1
        } else {
            entry.ends_with(&format!("/charts/{subchart}/Chart.yaml"))
                && entry.matches('/').count() == 3
        }
    };
    let own = listing
        .lines()
        .find(wanted)
        .unwrap_or_else(|| panic!("{archive}: no Chart.yaml for {subchart:?}"));
    serde_yaml_ng::from_str(&tar(&["-xzOf", &archive, own]))
        .unwrap_or_else(|e| panic!("{archive} {own}: {e}"))
}

/// `v`-prefixed, as Go module versions are.
fn semver(version: &str) -> String {
    format!("v{}", version.trim().trim_start_matches('v'))
}

/// The first capture of `after` .. `before` in `text` (a plain-text marker search, no regex crate).
fn between<'a>(text: &'a str, after: &str, before: &str) -> Option<&'a str> {
    let start = text.find(after)? + after.len();
    let end = text[start..].find(before)? + start;
    Some(&text[start..end])
}

/// The tag of the first image of a kind in a chart Application's render (without a variant suffix
/// such as `-distroless`).
fn rendered_image_tag(app: &str, kind: &str) -> String {
    let objects = crate::parse_documents(&script(&["charts", "render", app]))
        .unwrap_or_else(|e| panic!("{app} renders invalid YAML: {e}"));
    let image = crate::objects::of_kind(&objects, kind)
        .find_map(|o| {
            o.pointer("/spec/image")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("{app} renders no {kind} with spec.image"));
    let tag = image.rsplit_once(':').map_or("", |(_, tag)| tag);
    tag.split('-').next().unwrap_or("").to_string()
}

/// The targetRevision of the git source of a platform Application (argocd/platform/<file>).
fn git_revision(file: &str) -> String {
    let path = repo_root().join("argocd/platform").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    crate::parse_documents(&text)
        .unwrap_or_default()
        .iter()
        .find_map(|o| {
            o.pointer("/spec/source/targetRevision")?
                .as_str()
                .map(String::from)
        })
        .unwrap_or_else(|| "(none)".into())
}

/// Every pin of tools/upstream and what the platform says it must be.
pub fn pins() -> Vec<Pin> {
    let app_version = |app: &str| semver(chart_metadata(app)["appVersion"].as_str().unwrap_or(""));
    let readme = std::fs::read_to_string(repo_root().join("argocd/README.md")).unwrap_or_default();
    let argo_cd = between(&readme, "argoproj/argo-cd/", "/manifests/").unwrap_or("(none)");
    let tool_versions = source_file("argo-cd", "hack/tool-versions.sh");
    let kubeadm = source_file("kubernetes", "cmd/kubeadm/app/constants/constants.go");
    let validate =
        std::fs::read_to_string(repo_root().join("scripts/validate")).unwrap_or_default();
    let target_minor = between(&validate, "KUBERNETES_VERSION=", "\n").unwrap_or("(none)");
    let kubernetes = version("kubernetes");
    vec![
        Pin {
            component: "argo-rollouts",
            pinned: version("argo-rollouts"),
            expected: app_version("argo-rollouts"),
            because: "the appVersion of the argo-rollouts chart (argocd/platform/argo-rollouts.yaml)".into(),
        },
        Pin {
            component: "prometheus-operator",
            pinned: version("prometheus-operator"),
            expected: app_version("kube-prometheus-stack"),
            because: "the appVersion of kube-prometheus-stack (argocd/platform/kube-prometheus-stack.yaml)".into(),
        },
        Pin {
            component: "cert-manager",
            pinned: version("cert-manager"),
            expected: app_version("cert-manager"),
            because: "the appVersion of the cert-manager chart (argocd/platform/cert-manager.yaml)".into(),
        },
        Pin {
            component: "argo-cd",
            pinned: version("argo-cd"),
            expected: semver(argo_cd),
            because: "the Argo CD install manifest argocd/README.md prescribes".into(),
        },
        Pin {
            component: "helm",
            pinned: version("helm"),
            expected: semver(between(&tool_versions, "helm4_version=", "\n").unwrap_or("(none)")),
            because: "the helm Argo CD bundles (argo-cd hack/tool-versions.sh helm4_version)".into(),
        },
        Pin {
            component: "etcd",
            pinned: version("etcd"),
            expected: semver(
                between(&kubeadm, "DefaultEtcdVersion = \"", "\"")
                    .unwrap_or("(none)")
                    .split('-')
                    .next()
                    .unwrap_or(""),
            ),
            because: format!("the etcd kubeadm {kubernetes} installs (DefaultEtcdVersion)"),
        },
        Pin {
            component: "coredns",
            pinned: version("coredns"),
            expected: between(&kubeadm, "CoreDNSVersion = \"", "\"")
                .unwrap_or("(none)")
                .to_string(),
            because: format!("the CoreDNS kubeadm {kubernetes} installs (CoreDNSVersion)"),
        },
        Pin {
            component: "kube-state-metrics",
            pinned: version("kube-state-metrics"),
            expected: semver(
                subchart_metadata("kube-prometheus-stack", "kube-state-metrics")["appVersion"]
                    .as_str()
                    .unwrap_or(""),
            ),
            because: "the appVersion of kube-prometheus-stack's kube-state-metrics subchart".into(),
        },
        Pin {
            component: "prometheus",
            pinned: script(&["upstream", "image-tag", "prometheus"]),
            expected: rendered_image_tag("kube-prometheus-stack", "Prometheus"),
            because: "the image of the Prometheus kube-prometheus-stack renders".into(),
        },
        Pin {
            component: "gateway-api",
            pinned: version("gateway-api"),
            expected: git_revision("gateway-api-crds.yaml"),
            because: "the tag argocd/platform/gateway-api-crds.yaml installs the Gateway API CRDs from".into(),
        },
        Pin {
            component: "kubernetes",
            pinned: kubernetes.split('.').take(2).collect::<Vec<_>>().join("."),
            expected: semver(target_minor),
            because: "the Kubernetes minor the manifests target (scripts/validate KUBERNETES_VERSION)".into(),
        },
    ]
}

/// The pins that disagree with the platform, as messages.
pub fn mismatches(pins: &[Pin]) -> Vec<String> {
    pins.iter()
        .filter(|p| p.pinned != p.expected)
        .map(|p| {
            format!(
                "tools/upstream/{} pins {} but the platform runs {}: {}",
                p.component, p.pinned, p.expected, p.because
            )
        })
        .collect()
}
