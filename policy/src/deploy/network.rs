//! NetworkPolicy: default deny, then exactly the connections the platform needs (evaluated the
//! way the API defines them, crate::network_policy).

use super::config::config_map;
use super::{Env, GATEWAY, ROLLOUT, SYNTHETIC_TRAFFIC_TEMPLATE};
use crate::network_policy::flows::{self, Connection, Party, ANYONE};
use crate::network_policy::{platform, Endpoint, Pod, Side};
use crate::objects::{find, of_kind};
use crate::runtime_pods;
use serde_json::{json, Map, Value};

/// A NetworkPolicy selecting every pod that denies all ingress and egress.
pub fn default_deny(objs: &[Value]) -> Vec<String> {
    let denies = of_kind(objs, "NetworkPolicy").any(|np| {
        let types = np["spec"]["policyTypes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        np["spec"]["podSelector"]
            .as_object()
            .is_some_and(Map::is_empty)
            && types.contains(&json!("Ingress"))
            && types.contains(&json!("Egress"))
            && np["spec"]["ingress"].as_array().is_none_or(Vec::is_empty)
            && np["spec"]["egress"].as_array().is_none_or(Vec::is_empty)
    });
    if denies {
        Vec::new()
    } else {
        vec!["no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)".into()]
    }
}

/// Where prod's managed Redis lives: the private network outside the cluster.
pub const MANAGED_REDIS_NETWORK: &str = "10.0.0.0/8";

/// The policies admit exactly these connections of greeter, its in-cluster Redis, the ACME HTTP-01
/// solver and the data plane NGINX Gateway Fabric provisions for Gateway greeter — "the gateway",
/// the edge (both directions of each): anyone to the gateway's listener ports, the gateway to
/// greeter's `http` port, to the solver's 8089, to the NGF control plane's `agent-grpc` and to the
/// cluster DNS; Prometheus to the `metrics` ports of greeter and of the gateway; greeter to the
/// cluster DNS (`dns`, `dns-tcp`), to the OTLP collector's `otlp-http` port and to Redis
/// (in-cluster: its `redis` port, admitted by both ends; prod: the managed Redis network on
/// `REDIS_PORT`); the canary gate's synthetic traffic (an Argo Rollouts analysis Job) to greeter's
/// `http` port and to the cluster DNS. NodeLocal DNSCache is not used (deploy/README.md), so its address stays closed
/// like any other.
pub fn exact_flows(env: Env, objs: &[Value]) -> Vec<String> {
    let Some(rollout) = find(objs, "Rollout", ROLLOUT) else {
        return vec![format!("Rollout/{ROLLOUT} is not rendered")];
    };
    let Some(gateway) = find(objs, "Gateway", GATEWAY) else {
        return vec![format!("Gateway/{GATEWAY} is not rendered")];
    };
    let Some(synthetic_traffic) = find(objs, "AnalysisTemplate", SYNTHETIC_TRAFFIC_TEMPLATE) else {
        return vec![format!(
            "AnalysisTemplate/{SYNTHETIC_TRAFFIC_TEMPLATE} is not rendered"
        )];
    };
    let greeter = Pod::of_workload(rollout);
    let synthetic_traffic = Pod::of_workload(synthetic_traffic);
    let edge = Pod::of_workload(&runtime_pods::nginx_data_plane(gateway));
    let control_plane = platform::nginx_gateway_control_plane();
    let solver = platform::acme_http01_solver(&env.namespace());
    let collector = platform::otel_collector();
    let dns = platform::cluster_dns();
    let mut problems = Vec::new();
    let mut port = |pod: &Pod, name: &str, what: &str| match pod.port(name) {
        Some(p) => (p.number, p.protocol.clone()),
        None => {
            problems.push(format!("{what} has no container port {name}"));
            (0, "TCP".into())
        }
    };
    let (http, http_protocol) = port(&greeter, "http", "greeter");
    let (metrics, metrics_protocol) = port(&greeter, "metrics", "greeter");
    let (solver_http, solver_protocol) = port(&solver, "http", "the ACME solver");
    let (otlp, otlp_protocol) = port(&collector, "otlp-http", "the OTLP collector");
    let (dns_udp, dns_udp_protocol) = port(&dns, "dns", "the cluster DNS");
    let (dns_tcp, dns_tcp_protocol) = port(&dns, "dns-tcp", "the cluster DNS");
    let (edge_metrics, edge_metrics_protocol) = port(&edge, "metrics", "the gateway");
    let (agent, agent_protocol) = port(&control_plane, "agent-grpc", "the NGF control plane");
    // The listeners: every container port NGF opens for the Gateway but its metrics.
    let listeners: Vec<(i64, String)> = edge
        .ports
        .iter()
        .filter(|p| p.name != "metrics")
        .map(|p| (p.number, p.protocol.clone()))
        .collect();
    let mut parties = vec![
        Party::checked("greeter", greeter, &Side::BOTH),
        Party::checked("ACME solver", solver, &Side::BOTH),
        Party::checked("gateway", edge, &Side::BOTH),
        Party::checked("synthetic traffic", synthetic_traffic, &Side::BOTH),
        Party::peer("NGF control plane", Endpoint::Pod(control_plane)),
        Party::peer("Prometheus", Endpoint::Pod(platform::prometheus())),
        Party::peer("DNS", Endpoint::Pod(dns)),
        Party::peer("OTLP collector", Endpoint::Pod(collector)),
    ];
    let mut expected: Vec<Connection> = listeners
        .iter()
        .map(|(port, protocol)| Connection::new(ANYONE, "gateway", *port, protocol))
        .collect();
    expected.extend([
        Connection::new("gateway", "greeter", http, &http_protocol),
        Connection::new("gateway", "ACME solver", solver_http, &solver_protocol),
        Connection::new("gateway", "NGF control plane", agent, &agent_protocol),
        Connection::new("gateway", "DNS", dns_udp, &dns_udp_protocol),
        Connection::new("gateway", "DNS", dns_tcp, &dns_tcp_protocol),
        Connection::new(
            "Prometheus",
            "gateway",
            edge_metrics,
            &edge_metrics_protocol,
        ),
        Connection::new("Prometheus", "greeter", metrics, &metrics_protocol),
        Connection::new("synthetic traffic", "greeter", http, &http_protocol),
        Connection::new("synthetic traffic", "DNS", dns_udp, &dns_udp_protocol),
        Connection::new("synthetic traffic", "DNS", dns_tcp, &dns_tcp_protocol),
        Connection::new("greeter", "DNS", dns_udp, &dns_udp_protocol),
        Connection::new("greeter", "DNS", dns_tcp, &dns_tcp_protocol),
        Connection::new("greeter", "OTLP collector", otlp, &otlp_protocol),
    ]);
    if env.in_cluster_redis() {
        let Some(statefulset) = find(objs, "StatefulSet", "redis") else {
            return vec!["StatefulSet/redis is not rendered".into()];
        };
        let redis = Pod::of_workload(statefulset);
        let (port, protocol) = port(&redis, "redis", "redis");
        parties.push(Party::checked("redis", redis, &Side::BOTH));
        expected.push(Connection::new("greeter", "redis", port, &protocol));
    } else {
        let redis_port = config_map(objs)
            .and_then(|cm| cm["data"]["REDIS_PORT"].as_str())
            .and_then(|p| p.parse().ok());
        let Some(redis_port) = redis_port else {
            return vec!["greeter-config has no numeric REDIS_PORT".into()];
        };
        parties.push(Party::peer(
            "managed Redis",
            Endpoint::network(MANAGED_REDIS_NETWORK),
        ));
        expected.push(Connection::new(
            "greeter",
            "managed Redis",
            redis_port,
            "TCP",
        ));
    }
    let policies: Vec<Value> = of_kind(objs, "NetworkPolicy").cloned().collect();
    problems.extend(flows::problems(&policies, &parties, &expected));
    problems
}
