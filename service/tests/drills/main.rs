//! Drills: what the service survives, with figures. Load, Redis crashes and stalls, a dead OTLP
//! collector, SIGTERM under load, hostile input, an OpenAPI fuzz, and property tests of token and
//! config parsing. Fast variants run in `cargo test`; `scripts/drill` runs the long ones by
//! raising `DRILL_SOAK_SECONDS` / `DRILL_PHASE_SECONDS`. Each drill prints one `DRILL` line with
//! its figures (`--nocapture` shows them).

// The API tests' harness (real redis-server, the real binary); drills use only part of it.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod collector_under_load;
mod hostile_input;
mod load;
mod openapi_fuzz;
mod parsing_properties;
mod redis_under_load;
mod sigterm_under_load;
mod soak;
