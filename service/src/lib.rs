//! The greeter service: a greeting, a visit counter in Redis, a protected endpoint, health,
//! readiness, metrics and traces, with secrets rotated while it runs. `main.rs` only wires these
//! together.

pub mod auth;
pub mod build_info;
pub mod configuration;
pub mod error;
pub mod faults;
pub mod http_metrics;
pub mod metrics;
pub mod openapi;
pub mod redis_pool;
pub mod routes;
pub mod secrets;
pub mod shutdown;
pub mod startup;
pub mod swappable;
pub mod synthetic_traffic;
pub mod telemetry;
pub mod traffic;
pub mod visit_store;
