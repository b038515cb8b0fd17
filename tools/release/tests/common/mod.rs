//! Test fixtures: a real git repository in a temporary directory holding a small Kustomize tree
//! shaped like the real one (base Rollout + dev/staging/prod overlays), and runners for the binaries.

#![allow(dead_code)] // each test crate uses a different subset of these helpers

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const IMAGE: &str = "ghcr.io/greeter-gitops/greeter";

/// A digest made of one repeated hex digit, easy to tell apart in assertions.
/// The added and removed lines of a unified diff, without the `+++`/`---` file headers.
pub fn diff_changes(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect()
}

pub fn digest(hex_digit: char) -> String {
    format!("sha256:{}", hex_digit.to_string().repeat(64))
}

const BASE_KUSTOMIZATION: &str = "resources:
  - rollout.yaml
  - service.yaml
";

const BASE_ROLLOUT: &str = "apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: greeter
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: greeter
  template:
    metadata:
      labels:
        app.kubernetes.io/name: greeter
    spec:
      containers:
        - name: greeter
          image: ghcr.io/greeter-gitops/greeter
          ports:
            - name: http
              containerPort: 8080
";

const BASE_SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: greeter-stable
spec:
  selector:
    app.kubernetes.io/name: greeter
  ports:
    - name: http
      port: 80
      targetPort: http
";

/// The overlays as the deploy tree writes them: comments, a generator, dev on a tag, the others on digests.
pub fn overlay(env: &str, pin: &str) -> String {
    format!(
        "# {env}: the greeter overlay. Comments like this one must survive every bump.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: greeter-{env}
resources:
  - ../../base
configMapGenerator:
  - name: greeter-config
    literals:
      - APP_ENV={env}
images:
  # Bumped by scripts/bump-image; do not edit by hand.
  - name: ghcr.io/greeter-gitops/greeter
{pin}
labels:
  - pairs:
      environment: {env}
"
    )
}

pub struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// A repository whose first commit holds the base and the three overlays.
    pub fn new() -> Self {
        let repo = Self::empty();
        repo.write("deploy/base/kustomization.yaml", BASE_KUSTOMIZATION);
        repo.write("deploy/base/rollout.yaml", BASE_ROLLOUT);
        repo.write("deploy/base/service.yaml", BASE_SERVICE);
        repo.write(
            "deploy/overlays/dev/kustomization.yaml",
            &overlay("dev", "    newTag: sha-1111111"),
        );
        repo.write(
            "deploy/overlays/staging/kustomization.yaml",
            &overlay(
                "staging",
                &format!("    newTag: sha-1111111\n    digest: {}", digest('a')),
            ),
        );
        repo.write(
            "deploy/overlays/prod/kustomization.yaml",
            &overlay("prod", &format!("    digest: {}", digest('a'))),
        );
        repo.commit("initial tree");
        repo
    }

    /// An initialised repository with no commits.
    pub fn empty() -> Self {
        let repo = Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, path: &str) -> PathBuf {
        self.path().join(path)
    }

    pub fn read(&self, path: &str) -> String {
        fs::read_to_string(self.file(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    pub fn write(&self, path: &str, contents: &str) {
        let file = self.file(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, contents).unwrap();
    }

    /// Runs git in the repository with a fixed identity; panics with its stderr on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .current_dir(self.path())
            .args([
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .expect("git is installed (apt-get install git)");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Commits everything and returns the short commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "--short=7", "HEAD"])
            .trim()
            .to_string()
    }

    /// `git status --porcelain` plus the work tree's diff: equal before and after means untouched.
    pub fn state(&self) -> String {
        self.git(&["status", "--porcelain", "--untracked-files=all"]) + &self.git(&["diff"])
    }

    /// The added and removed lines of the work tree's diff (no headers, no context).
    pub fn changed_lines(&self) -> Vec<String> {
        diff_changes(&self.git(&["diff", "--unified=0"]))
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    pub fn changed_files(&self) -> Vec<String> {
        self.git(&["diff", "--name-only"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Runs one of this crate's binaries inside the repository.
    pub fn run(&self, binary: &str, args: &[&str]) -> Run {
        let exe = match binary {
            "bump-image" => env!("CARGO_BIN_EXE_bump-image"),
            "promote" => env!("CARGO_BIN_EXE_promote"),
            "render-diff" => env!("CARGO_BIN_EXE_render-diff"),
            "revert" => env!("CARGO_BIN_EXE_revert"),
            other => panic!("no binary {other}"),
        };
        let output = Command::new(exe)
            .current_dir(self.path())
            .args(args)
            .output()
            .unwrap();
        Run::from(output)
    }

    /// The greeter image the overlay renders, read independently of the crate under test: one
    /// image, however many objects run it (the real tree's synthetic-traffic Job does too).
    pub fn rendered_image(&self, env: &str) -> String {
        let output = Command::new("kubectl")
            .arg("kustomize")
            .arg(self.file(&format!("deploy/overlays/{env}")))
            .output()
            .expect("kubectl is installed (https://kubernetes.io/docs/tasks/tools/)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let images: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("image: "))
            .filter(|i| i.starts_with(IMAGE))
            .collect();
        assert_eq!(images.len(), 1, "one greeter image in {env}: {images:?}");
        images.first().unwrap().to_string()
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn refused(self, reason: &str) -> Self {
        assert_eq!(
            self.code, 1,
            "expected a refusal; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(reason),
            "stderr should say `{reason}`:\n{}",
            self.stderr
        );
        self
    }
}

/// A file of tests/fixtures.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The repository_dispatch body the `rollout-aborted` notification template renders
/// (tests/rollout_notification.rs proves it): `event_type` and `client_payload`.
pub fn dispatch_fixture() -> serde_json::Value {
    let path = fixture_path("rollout-aborted/dispatch.json");
    serde_json::from_str(&fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture's aborted image (`client_payload.abortedImage`).
pub fn aborted_image() -> String {
    dispatch_fixture()["client_payload"]["abortedImage"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A payload file outside any repository (so it never shows in a repository's state).
pub struct PayloadFile {
    dir: tempfile::TempDir,
}

impl PayloadFile {
    pub fn new(client_payload: &serde_json::Value) -> Self {
        Self::raw(&client_payload.to_string())
    }

    pub fn raw(text: &str) -> Self {
        let file = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::write(file.path(), text).unwrap();
        file
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("payload.json")
    }

    pub fn arg(&self) -> String {
        self.path().to_str().unwrap().to_string()
    }
}
