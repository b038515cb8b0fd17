//! Integration tests: the real app on random ports against a real `redis-server`.

mod auth;
mod config_errors;
mod faults;
mod greet;
mod health;
mod helpers;
mod metrics;
mod problems;
mod redis_faults;
mod redis_tls;
mod secret_rotation;
mod secrets_in_logs;
mod shutdown;
mod synthetic_traffic;
mod traces;
mod traffic;
mod visits;
