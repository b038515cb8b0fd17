//! One file per resource. The modules are crate-visible for the OpenAPI path items
//! (`crate::openapi`), which live beside each handler.

pub(crate) mod greet;
pub(crate) mod health;
pub(crate) mod secret;
pub(crate) mod version;
pub(crate) mod visits;

pub use greet::greet;
pub use health::{healthz, readyz};
pub use secret::secret;
pub use version::version;
pub use visits::{count_visits, record_visit};
