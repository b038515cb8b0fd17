//! Who a request is for: a client, or the synthetic load that keeps a canary measurable when no
//! client calls (`greeter synthetic-traffic`). The SLOs count client traffic only; the canary gate
//! counts both (docs/metrics.md). The gateway strips the header from outside requests, so only
//! the load generator inside the cluster can send it.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::HeaderMap;
use actix_web::{FromRequest, HttpRequest};

/// The request header that marks synthetic traffic, with `SYNTHETIC` as its value.
pub const HEADER: &str = "x-greeter-traffic";
pub const SYNTHETIC: &str = "synthetic";

/// The `traffic` label of the HTTP metrics, and which visit counter a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficClass {
    Client,
    Synthetic,
}

impl TrafficClass {
    pub const ALL: [TrafficClass; 2] = [TrafficClass::Client, TrafficClass::Synthetic];

    /// Synthetic when the header says exactly `synthetic`; anything else is a client.
    pub fn of(headers: &HeaderMap) -> Self {
        match headers.get(HEADER) {
            Some(value) if value == SYNTHETIC => TrafficClass::Synthetic,
            _ => TrafficClass::Client,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TrafficClass::Client => "client",
            TrafficClass::Synthetic => SYNTHETIC,
        }
    }
}

impl FromRequest for TrafficClass {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(TrafficClass::of(req.headers())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn class_of(value: Option<&'static str>) -> TrafficClass {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(
                HeaderName::from_static(HEADER),
                HeaderValue::from_static(value),
            );
        }
        TrafficClass::of(&headers)
    }

    #[test]
    fn only_the_exact_value_is_synthetic() {
        assert_eq!(class_of(Some("synthetic")), TrafficClass::Synthetic);
        for other in [
            None,
            Some(""),
            Some("client"),
            Some("synthetic2"),
            Some("yes"),
        ] {
            assert_eq!(class_of(other), TrafficClass::Client, "{other:?}");
        }
    }
}
