//! One file per resource.

mod greet;
mod health;
mod secret;
mod version;
mod visits;

pub use greet::greet;
pub use health::{healthz, readyz};
pub use secret::secret;
pub use version::version;
pub use visits::{count_visits, record_visit};
