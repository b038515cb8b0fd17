//! Policies over the rendered `deploy/overlays/<env>` trees. Every check returns its violations
//! (empty = compliant) so tests can assert both that the real tree is clean and that a broken
//! one yields the expected violation.

pub mod admission;
pub mod availability;
pub mod canary;
pub mod config;
pub mod integrity;
pub mod network;
pub mod security;

use std::path::PathBuf;

/// The environments and what each one must look like (the per-environment contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Env {
    Dev,
    Staging,
    Prod,
}

impl Env {
    pub const ALL: [Env; 3] = [Env::Dev, Env::Staging, Env::Prod];

    pub fn name(self) -> &'static str {
        match self {
            Env::Dev => "dev",
            Env::Staging => "staging",
            Env::Prod => "prod",
        }
    }

    pub fn overlay(self) -> PathBuf {
        crate::repo_root().join("deploy/overlays").join(self.name())
    }

    pub fn namespace(self) -> String {
        format!("greeter-{}", self.name())
    }

    pub fn host(self) -> &'static str {
        match self {
            Env::Dev => "greeter.dev.example.com",
            Env::Staging => "greeter.staging.example.com",
            Env::Prod => "greeter.example.com",
        }
    }

    pub fn cluster_issuer(self) -> &'static str {
        match self {
            Env::Prod => "letsencrypt-prod",
            _ => "letsencrypt-staging",
        }
    }

    /// HPA (minReplicas, maxReplicas); the Rollout's replicas equal the minimum.
    pub fn replica_bounds(self) -> (i64, i64) {
        match self {
            Env::Dev => (1, 2),
            Env::Staging => (2, 4),
            Env::Prod => (3, 10),
        }
    }

    pub fn secret_store(self) -> &'static str {
        match self {
            Env::Dev => "fake-dev",
            _ => "vault",
        }
    }

    /// Images must be pinned by digest (dev may use an immutable `sha-<hex>` tag).
    pub fn requires_digest(self) -> bool {
        self != Env::Dev
    }

    /// In-cluster Redis (component `redis`) rather than managed Redis over TLS.
    pub fn in_cluster_redis(self) -> bool {
        self != Env::Prod
    }

    /// Hard spread across zones (prod); everywhere else only the soft spread across nodes.
    pub fn zone_spread(self) -> bool {
        self == Env::Prod
    }
}

/// The workload, its Services and the analysis the contract names.
pub const ROLLOUT: &str = "greeter";
pub const STABLE_SERVICE: &str = "greeter-stable";
pub const CANARY_SERVICE: &str = "greeter-canary";
/// The environment's Gateway, the HTTPRoute whose weights the canary moves, and the TLS Secret.
pub const GATEWAY: &str = "greeter";
pub const ROUTE: &str = "greeter";
pub const TLS_SECRET: &str = "greeter-tls";
/// The Argo Rollouts traffic router plugin the canary uses (the name it registers, and the key of
/// its configuration under trafficRouting.plugins).
pub const GATEWAY_API_PLUGIN: &str = "argoproj-labs/gatewayAPI";
pub const ANALYSIS_TEMPLATE: &str = "greeter-canary-analysis";
pub const SYNTHETIC_TRAFFIC_TEMPLATE: &str = "greeter-synthetic-traffic";
pub const CONFIG_MAP: &str = "greeter-config";
pub const SECRET: &str = "greeter-secrets";
pub const SECRET_KEYS: [&str; 4] = [
    "SECRET_MESSAGE",
    "DUMMY_API_KEY",
    "JWT_SECRET",
    "REDIS_PASSWORD",
];
pub const IMAGE: &str = "ghcr.io/greeter-gitops/greeter";
