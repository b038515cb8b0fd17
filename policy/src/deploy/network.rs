//! NetworkPolicy: default deny, then only the flows the service needs. Flows are evaluated the
//! way the API defines them (a pod is isolated for a direction once any policy selecting it
//! lists that policy type; then some rule must admit the peer and the port).

use super::{Env, ROLLOUT};
use crate::objects::{container_ports, find, id, namespace, of_kind, pod_labels, selector_matches};
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

/// The other end of a flow.
pub enum Peer {
    /// A pod with these labels in this namespace (namespaces carry kubernetes.io/metadata.name).
    Pod { namespace: String, labels: Value },
    /// An address outside the cluster.
    Ip([u8; 4]),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

/// Whether the policies admit a flow to (Ingress) or from (Egress) the pods of `workload`, with
/// `peer`, on `port`/`protocol` (for ingress, named ports resolve on the workload's containers).
pub fn allows(
    objs: &[Value],
    workload: &Value,
    direction: Direction,
    peer: &Peer,
    port: i64,
    protocol: &str,
) -> bool {
    let (type_name, rules_field, peers_field) = match direction {
        Direction::Ingress => ("Ingress", "ingress", "from"),
        Direction::Egress => ("Egress", "egress", "to"),
    };
    let labels = pod_labels(workload);
    let own_ns = namespace(workload);
    let selecting: Vec<&Value> = of_kind(objs, "NetworkPolicy")
        .filter(|np| {
            namespace(np) == own_ns && selector_matches(&np["spec"]["podSelector"], &labels)
        })
        .filter(|np| policy_types(np).contains(&type_name))
        .collect();
    if selecting.is_empty() {
        return true;
    }
    let port_names: Vec<String> = container_ports(workload)
        .into_iter()
        .filter(|(_, n)| *n == port)
        .map(|(name, _)| name)
        .collect();
    selecting.iter().any(|np| {
        np["spec"][rules_field]
            .as_array()
            .into_iter()
            .flatten()
            .any(|rule| {
                let peer_ok = match rule[peers_field].as_array() {
                    None => true,
                    Some(peers) if peers.is_empty() => true,
                    Some(peers) => peers.iter().any(|p| peer_matches(p, peer, namespace(np))),
                };
                let port_ok = match rule["ports"].as_array() {
                    None => true,
                    Some(ports) if ports.is_empty() => true,
                    Some(ports) => ports.iter().any(|p| {
                        let proto_ok = p["protocol"].as_str().unwrap_or("TCP") == protocol;
                        let number_ok = match &p["port"] {
                            Value::Null => true,
                            Value::Number(n) => n.as_i64() == Some(port),
                            // Named ports resolve on the selected pod (ingress only).
                            Value::String(s) => {
                                direction == Direction::Ingress && port_names.contains(s)
                            }
                            _ => false,
                        };
                        proto_ok && number_ok
                    }),
                };
                peer_ok && port_ok
            })
    })
}

fn policy_types(np: &Value) -> Vec<&str> {
    match np["spec"]["policyTypes"].as_array() {
        Some(types) => types.iter().filter_map(Value::as_str).collect(),
        None if np["spec"]["egress"].is_array() => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    }
}

fn peer_matches(rule_peer: &Value, peer: &Peer, policy_ns: &str) -> bool {
    match peer {
        Peer::Pod {
            namespace: ns,
            labels,
        } => {
            if rule_peer.get("ipBlock").is_some() {
                return false;
            }
            let pod_labels = labels.as_object().cloned().unwrap_or_default();
            let ns_ok = match rule_peer.get("namespaceSelector") {
                None => ns == policy_ns,
                Some(sel) => {
                    let mut ns_labels = Map::new();
                    ns_labels.insert("kubernetes.io/metadata.name".into(), json!(ns));
                    selector_matches(sel, &ns_labels)
                }
            };
            let pod_ok = rule_peer
                .get("podSelector")
                .is_none_or(|sel| selector_matches(sel, &pod_labels));
            ns_ok && pod_ok
        }
        Peer::Ip(addr) => {
            let Some(block) = rule_peer.get("ipBlock") else {
                return false;
            };
            let in_cidr = |cidr: &Value| {
                cidr.as_str()
                    .and_then(parse_cidr)
                    .is_some_and(|(net, bits)| same_prefix(*addr, net, bits))
            };
            in_cidr(&block["cidr"])
                && !block["except"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(in_cidr)
        }
    }
}

fn parse_cidr(cidr: &str) -> Option<([u8; 4], u32)> {
    let (addr, bits) = cidr.split_once('/')?;
    let octets: Vec<u8> = addr
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    Some((octets.try_into().ok()?, bits.parse().ok()?))
}

fn same_prefix(a: [u8; 4], b: [u8; 4], bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits.min(32))
    };
    u32::from_be_bytes(a) & mask == u32::from_be_bytes(b) & mask
}

/// One flow that must be allowed (or denied) for the environment to work (or stay closed).
struct Flow<'a> {
    workload: &'a Value,
    direction: Direction,
    peer: Peer,
    port: i64,
    protocol: &'static str,
    allowed: bool,
    what: &'static str,
}

fn pod(namespace: &str, labels: Value) -> Peer {
    Peer::Pod {
        namespace: namespace.to_string(),
        labels,
    }
}

/// The flows greeter (and in-cluster Redis) need are admitted, and traffic from anywhere else is not.
pub fn required_flows(env: Env, objs: &[Value]) -> Vec<String> {
    use Direction::{Egress, Ingress};
    let Some(greeter) = find(objs, "Rollout", ROLLOUT) else {
        return vec![format!("Rollout/{ROLLOUT} is not rendered")];
    };
    let ns = env.namespace();
    let named = |n: &str| json!({"app.kubernetes.io/name": n});
    let flow = |workload, direction, peer, port, protocol, allowed, what| Flow {
        workload,
        direction,
        peer,
        port,
        protocol,
        allowed,
        what,
    };
    let mut flows = vec![
        flow(
            greeter,
            Ingress,
            pod("ingress-nginx", named("ingress-nginx")),
            8080,
            "TCP",
            true,
            "ingress-nginx -> greeter http",
        ),
        flow(
            greeter,
            Ingress,
            pod("monitoring", named("prometheus")),
            9464,
            "TCP",
            true,
            "Prometheus -> greeter metrics",
        ),
        flow(
            greeter,
            Ingress,
            pod("default", named("anything")),
            8080,
            "TCP",
            false,
            "other namespaces -> greeter http",
        ),
        flow(
            greeter,
            Ingress,
            pod("ingress-nginx", named("ingress-nginx")),
            9464,
            "TCP",
            false,
            "ingress-nginx -> greeter metrics",
        ),
        flow(
            greeter,
            Egress,
            pod("kube-system", json!({"k8s-app": "kube-dns"})),
            53,
            "UDP",
            true,
            "greeter -> DNS",
        ),
        flow(
            greeter,
            Egress,
            pod("observability", named("otel-collector")),
            4318,
            "TCP",
            true,
            "greeter -> OTLP collector",
        ),
        flow(
            greeter,
            Egress,
            Peer::Ip([93, 184, 216, 34]),
            443,
            "TCP",
            false,
            "greeter -> the internet",
        ),
    ];
    if env.in_cluster_redis() {
        let Some(redis) = find(objs, "StatefulSet", "redis") else {
            return vec!["StatefulSet/redis is not rendered".into()];
        };
        flows.extend([
            flow(
                greeter,
                Egress,
                pod(&ns, named("redis")),
                6379,
                "TCP",
                true,
                "greeter -> redis",
            ),
            flow(
                redis,
                Ingress,
                pod(&ns, named("greeter")),
                6379,
                "TCP",
                true,
                "greeter -> redis (redis side)",
            ),
            flow(
                redis,
                Ingress,
                pod(&ns, named("other")),
                6379,
                "TCP",
                false,
                "other pods -> redis",
            ),
            flow(
                redis,
                Ingress,
                pod("ingress-nginx", named("ingress-nginx")),
                6379,
                "TCP",
                false,
                "ingress-nginx -> redis",
            ),
        ]);
    } else {
        flows.push(flow(
            greeter,
            Egress,
            Peer::Ip([10, 20, 30, 40]),
            6380,
            "TCP",
            true,
            "greeter -> managed Redis (TLS)",
        ));
    }
    flows
        .into_iter()
        .filter(|f| allows(objs, f.workload, f.direction, &f.peer, f.port, f.protocol) != f.allowed)
        .map(|f| {
            format!(
                "{}: {} must be {}",
                id(f.workload),
                f.what,
                if f.allowed { "allowed" } else { "denied" }
            )
        })
        .collect()
}
