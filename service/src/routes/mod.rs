//! One file per resource: each handler with the body types it answers. `crate::openapi` gathers
//! their path items and schemas; nothing here depends on it.

pub(crate) mod greet;
pub(crate) mod health;
pub(crate) mod secret;
pub(crate) mod version;
pub(crate) mod visits;

pub use greet::greet;
pub use health::{healthz, readyz, PROBES};
pub use secret::{secret, SecretState};
pub use version::version;
pub use visits::{count_visits, record_visit};
