//! What the load generator sent and what came back: the one JSON line it prints at the end.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde::Serialize;

/// How one request ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Answered(StatusCode),
    /// No answer within the per-request timeout.
    Timeout,
    /// No connection (refused, unresolvable, reset before the answer).
    Connect,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoppedBy {
    Deadline,
    Signal,
}

/// The summary line. Every key is always present, so a reader needs no defaults.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub target: String,
    pub rps: u32,
    pub seconds: u32,
    pub stopped_by: StoppedBy,
    pub elapsed_seconds: f64,
    /// Requests sent (answered or not).
    pub sent: u64,
    /// Requests not sent because too many were still waiting for an answer.
    pub skipped: u64,
    /// By route (`"GET /visits"`), the answers per status class and the requests that got none.
    pub routes: BTreeMap<&'static str, RouteCounts>,
    pub transport_errors: TransportErrors,
}

#[derive(Debug, Default, Serialize)]
pub struct RouteCounts {
    #[serde(rename = "2xx")]
    pub success: u64,
    #[serde(rename = "3xx")]
    pub redirection: u64,
    #[serde(rename = "4xx")]
    pub client_error: u64,
    #[serde(rename = "5xx")]
    pub server_error: u64,
    pub transport_errors: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct TransportErrors {
    pub timeout: u64,
    pub connect: u64,
    pub other: u64,
}

impl Summary {
    pub fn new(target: String, rps: u32, seconds: u32, routes: &[&'static str]) -> Self {
        Self {
            target,
            rps,
            seconds,
            stopped_by: StoppedBy::Deadline,
            elapsed_seconds: 0.0,
            sent: 0,
            skipped: 0,
            routes: routes
                .iter()
                .map(|route| (*route, RouteCounts::default()))
                .collect(),
            transport_errors: TransportErrors::default(),
        }
    }

    pub fn record(&mut self, route: &'static str, outcome: Outcome) {
        let counts = self.routes.entry(route).or_default();
        let errors = &mut self.transport_errors;
        let count = match outcome {
            Outcome::Answered(status) => match status.as_u16() / 100 {
                2 => &mut counts.success,
                3 => &mut counts.redirection,
                4 => &mut counts.client_error,
                // reqwest hands over final answers only: 1xx never gets here.
                _ => &mut counts.server_error,
            },
            Outcome::Timeout => &mut errors.timeout,
            Outcome::Connect => &mut errors.connect,
            Outcome::Other => &mut errors.other,
        };
        *count += 1;
        if !matches!(outcome, Outcome::Answered(_)) {
            counts.transport_errors += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_every_key_even_at_zero() {
        let mut summary = Summary::new("http://canary/".into(), 5, 60, &["GET /", "GET /secret"]);
        summary.sent = 3;
        summary.record("GET /", Outcome::Answered(StatusCode::OK));
        summary.record("GET /secret", Outcome::Answered(StatusCode::UNAUTHORIZED));
        summary.record("GET /", Outcome::Timeout);
        let line = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "target": "http://canary/", "rps": 5, "seconds": 60, "stopped_by": "deadline",
                "elapsed_seconds": 0.0, "sent": 3, "skipped": 0,
                "routes": {
                    "GET /": {"2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0, "transport_errors": 1},
                    "GET /secret": {"2xx": 0, "3xx": 0, "4xx": 1, "5xx": 0, "transport_errors": 0},
                },
                "transport_errors": {"timeout": 1, "connect": 0, "other": 0},
            })
        );
    }
}
