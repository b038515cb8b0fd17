//! Who may reach Tempo in namespace observability (observability/traces/tempo-networkpolicy.yaml):
//! exactly the collector's OTLP/gRPC export, Grafana's queries and Prometheus' scrape.

use crate::network_policy::flows::{self, Connection, Party};
use crate::network_policy::{platform, Endpoint, Side};
use crate::objects::of_kind;
use serde_json::Value;

/// What the rendered policies get wrong about Tempo's ingress (its egress is not restricted).
pub fn tempo_flows(objects: &[Value]) -> Vec<String> {
    let tempo = platform::tempo();
    let port = |name: &str| {
        tempo
            .port(name)
            .map(|p| p.number)
            .unwrap_or_else(|| panic!("platform::tempo() has no port {name}"))
    };
    let (otlp_grpc, api) = (port("otlp-grpc"), port("prom-metrics"));
    let parties = [
        Party::checked("Tempo", tempo, &[Side::Ingress]),
        Party::peer("OTLP collector", Endpoint::Pod(platform::otel_collector())),
        Party::peer("Grafana", Endpoint::Pod(platform::grafana())),
        Party::peer("Prometheus", Endpoint::Pod(platform::prometheus())),
    ];
    let expected = [
        Connection::new("OTLP collector", "Tempo", otlp_grpc, "TCP"),
        Connection::new("Grafana", "Tempo", api, "TCP"),
        Connection::new("Prometheus", "Tempo", api, "TCP"),
    ];
    let policies: Vec<Value> = of_kind(objects, "NetworkPolicy").cloned().collect();
    flows::problems(&policies, &parties, &expected)
}
