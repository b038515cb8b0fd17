//! The deployment environments, their overlays and their pinning and promotion rules.

use crate::image_ref::ImageRef;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Environment {
    Dev,
    Staging,
    Prod,
}

impl Environment {
    pub const ALL: [Environment; 3] = [Environment::Dev, Environment::Staging, Environment::Prod];

    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "dev" => Ok(Self::Dev),
            "staging" => Ok(Self::Staging),
            "prod" => Ok(Self::Prod),
            other => Err(format!(
                "unknown environment `{other}` (expected dev, staging or prod)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Prod => "prod",
        }
    }

    /// The overlay directory, relative to the repository root.
    pub fn overlay(self) -> PathBuf {
        Path::new("deploy/overlays").join(self.name())
    }

    /// The kustomization file holding this environment's `images:` entry.
    pub fn kustomization(self) -> PathBuf {
        self.overlay().join("kustomization.yaml")
    }

    /// The environment an image must have run in before it may come here.
    pub fn promoted_from(self) -> Option<Self> {
        match self {
            Self::Dev => None,
            Self::Staging => Some(Self::Dev),
            Self::Prod => Some(Self::Staging),
        }
    }

    /// Staging and prod only run digests: a tag can be re-pushed, a digest cannot.
    pub fn check_pin(self, image: &ImageRef) -> Result<(), String> {
        if self != Self::Dev && image.digest.is_none() {
            return Err(format!(
                "{self} requires a digest (`{}@sha256:<64 hex>`), got {}: {image}",
                image.repository,
                image.describe_pin()
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
