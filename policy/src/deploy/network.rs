//! NetworkPolicy: default deny, then exactly the connections the platform needs (evaluated the
//! way the API defines them, crate::network_policy).

use super::config::config_map;
use super::{Env, ROLLOUT};
use crate::network_policy::flows::{self, Connection, Party};
use crate::network_policy::{platform, Endpoint, Pod, Side};
use crate::objects::{find, of_kind};
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

/// The policies admit exactly these connections of greeter, its in-cluster Redis and the ACME
/// HTTP-01 solver (both directions of each): the edge to greeter's `http` port and to the solver's
/// 8089, Prometheus to `metrics`, greeter to the cluster DNS (`dns`, `dns-tcp`), to the OTLP
/// collector's `otlp-http` port and to Redis (in-cluster: its `redis` port, admitted by both ends;
/// prod: the managed Redis network on `REDIS_PORT`). NodeLocal DNSCache is not used
/// (deploy/README.md), so its address stays closed like any other.
pub fn exact_flows(env: Env, objs: &[Value]) -> Vec<String> {
    let Some(rollout) = find(objs, "Rollout", ROLLOUT) else {
        return vec![format!("Rollout/{ROLLOUT} is not rendered")];
    };
    let greeter = Pod::of_workload(rollout);
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
    let mut parties = vec![
        Party::checked("greeter", greeter, &Side::BOTH),
        Party::checked("ACME solver", solver, &Side::BOTH),
        Party::peer("edge", Endpoint::Pod(platform::edge())),
        Party::peer("Prometheus", Endpoint::Pod(platform::prometheus())),
        Party::peer("DNS", Endpoint::Pod(dns)),
        Party::peer("OTLP collector", Endpoint::Pod(collector)),
    ];
    let mut expected = vec![
        Connection::new("edge", "greeter", http, &http_protocol),
        Connection::new("edge", "ACME solver", solver_http, &solver_protocol),
        Connection::new("Prometheus", "greeter", metrics, &metrics_protocol),
        Connection::new("greeter", "DNS", dns_udp, &dns_udp_protocol),
        Connection::new("greeter", "DNS", dns_tcp, &dns_tcp_protocol),
        Connection::new("greeter", "OTLP collector", otlp, &otlp_protocol),
    ];
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
