//! NetworkPolicy (networking.k8s.io/v1) evaluated the way the API defines it.
//!
//! A connection from one end to the other on a port is admitted when both ends let it through:
//! the sender's egress and the receiver's ingress. A pod is isolated for a direction once any policy
//! in its namespace selects it and lists that policy type (unset policyTypes default to Ingress,
//! plus Egress when the egress list is non-empty); then at least one rule of those policies must
//! admit the other end and the port. A pod that no policy isolates lets everything through, and so
//! do pods whose namespace's policies are not passed in (the platform's own namespaces here).
//! Named ports resolve on the destination pod's container ports. `ipBlock` peers are matched only
//! against addresses outside the cluster: whether they also match pod IPs is up to the network
//! plugin, so nothing here relies on it.

pub mod flows;
pub mod platform;

use crate::objects::{containers, namespace, of_kind, pod_labels, pod_spec, selector_matches};
use serde_json::{json, Map, Value};
use std::fmt;

/// A pod as policies see it: namespace, labels and the container ports its named ports resolve to.
#[derive(Clone, Debug, PartialEq)]
pub struct Pod {
    pub namespace: String,
    pub labels: Map<String, Value>,
    pub ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerPort {
    pub name: String,
    pub number: i64,
    pub protocol: String,
}

impl Pod {
    pub fn new(namespace: &str, labels: &[(&str, &str)]) -> Pod {
        Pod {
            namespace: namespace.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
            ports: Vec::new(),
        }
    }

    /// The same pod with these container ports: (name, number, protocol).
    pub fn with_ports(mut self, ports: &[(&str, i64, &str)]) -> Pod {
        self.ports = ports
            .iter()
            .map(|(name, number, protocol)| ContainerPort {
                name: name.to_string(),
                number: *number,
                protocol: protocol.to_string(),
            })
            .collect();
        self
    }

    /// The pods a rendered workload creates.
    pub fn of_workload(workload: &Value) -> Pod {
        let ports = pod_spec(workload)
            .into_iter()
            .flat_map(containers)
            .filter_map(|c| c["ports"].as_array())
            .flatten()
            .map(|p| ContainerPort {
                name: p["name"].as_str().unwrap_or_default().to_string(),
                number: p["containerPort"].as_i64().unwrap_or_default(),
                protocol: p["protocol"].as_str().unwrap_or("TCP").to_string(),
            })
            .collect();
        Pod {
            namespace: namespace(workload).to_string(),
            labels: pod_labels(workload),
            ports,
        }
    }

    /// The container port with this name.
    pub fn port(&self, name: &str) -> Option<&ContainerPort> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// One end of a connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    Pod(Pod),
    /// Addresses outside the cluster; admitted only when every address of the network is.
    Network {
        address: [u8; 4],
        prefix: u32,
    },
}

impl Endpoint {
    /// One address outside the cluster.
    pub fn address(address: [u8; 4]) -> Endpoint {
        Endpoint::Network {
            address,
            prefix: 32,
        }
    }

    /// A network in CIDR notation; panics on a malformed literal (they are written in the checks).
    pub fn network(cidr: &str) -> Endpoint {
        let (address, prefix) = parse_cidr(cidr).unwrap_or_else(|| panic!("bad CIDR {cidr}"));
        Endpoint::Network { address, prefix }
    }

    fn pod(&self) -> Option<&Pod> {
        match self {
            Endpoint::Pod(pod) => Some(pod),
            Endpoint::Network { .. } => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Pod(pod) => write!(
                f,
                "pod {} in {}",
                Value::Object(pod.labels.clone()),
                pod.namespace
            ),
            Endpoint::Network { address, prefix } => {
                let [a, b, c, d] = address;
                write!(f, "{a}.{b}.{c}.{d}/{prefix}")
            }
        }
    }
}

/// The direction a policy governs for the pods it selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Ingress,
    Egress,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Ingress, Side::Egress];

    pub fn policy_type(self) -> &'static str {
        match self {
            Side::Ingress => "Ingress",
            Side::Egress => "Egress",
        }
    }

    /// The spec field holding the rules (`ingress`, `egress`).
    pub fn rules_field(self) -> &'static str {
        match self {
            Side::Ingress => "ingress",
            Side::Egress => "egress",
        }
    }

    /// The rule field holding the peers (`from`, `to`).
    pub fn peers_field(self) -> &'static str {
        match self {
            Side::Ingress => "from",
            Side::Egress => "to",
        }
    }
}

/// The policy types a NetworkPolicy governs, with the API server's defaulting applied.
fn policy_types(np: &Value) -> Vec<Side> {
    match np["spec"]["policyTypes"].as_array() {
        Some(types) if !types.is_empty() => Side::BOTH
            .into_iter()
            .filter(|s| types.contains(&json!(s.policy_type())))
            .collect(),
        _ if np["spec"]["egress"]
            .as_array()
            .is_some_and(|e| !e.is_empty()) =>
        {
            Side::BOTH.to_vec()
        }
        _ => vec![Side::Ingress],
    }
}

/// Whether the policy's podSelector selects the pod (same namespace only).
fn selects(np: &Value, pod: &Pod) -> bool {
    namespace(np) == pod.namespace && selector_matches(&np["spec"]["podSelector"], &pod.labels)
}

/// The rules of `side` in a policy (empty when it has none).
fn rules(np: &Value, side: Side) -> &[Value] {
    np["spec"][side.rules_field()]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether the policies admit a connection from `from` to `to` on `port`/`protocol`: the
/// sender's egress and the receiver's ingress.
pub fn admits(
    policies: &[Value],
    from: &Endpoint,
    to: &Endpoint,
    port: i64,
    protocol: &str,
) -> bool {
    side_admits(policies, Side::Egress, from, to, port, protocol)
        && side_admits(policies, Side::Ingress, from, to, port, protocol)
}

/// Whether one end lets the connection through: the sender for Egress, the receiver for
/// Ingress. Outside addresses have no policies.
fn side_admits(
    policies: &[Value],
    side: Side,
    from: &Endpoint,
    to: &Endpoint,
    port: i64,
    protocol: &str,
) -> bool {
    let (own, other) = match side {
        Side::Ingress => (to, from),
        Side::Egress => (from, to),
    };
    let Some(pod) = own.pod() else {
        return true;
    };
    let isolating: Vec<&Value> = of_kind(policies, "NetworkPolicy")
        .filter(|np| selects(np, pod) && policy_types(np).contains(&side))
        .collect();
    isolating.is_empty()
        || isolating.iter().any(|np| {
            rules(np, side)
                .iter()
                .any(|rule| rule_admits(rule, side, namespace(np), other, to, port, protocol))
        })
}

/// Whether one rule of a policy in `policy_ns` admits `peer` on `port`/`protocol` of `destination`.
fn rule_admits(
    rule: &Value,
    side: Side,
    policy_ns: &str,
    peer: &Endpoint,
    destination: &Endpoint,
    port: i64,
    protocol: &str,
) -> bool {
    let peers_ok = match rule[side.peers_field()].as_array() {
        None => true,
        Some(peers) => peers.is_empty() || peers.iter().any(|p| peer_admits(p, peer, policy_ns)),
    };
    let ports_ok = match rule["ports"].as_array() {
        None => true,
        Some(ports) => {
            ports.is_empty()
                || ports
                    .iter()
                    .any(|p| port_admits(p, destination, port, protocol))
        }
    };
    peers_ok && ports_ok
}

/// One `from`/`to` entry against the other end of the connection.
fn peer_admits(rule_peer: &Value, other: &Endpoint, policy_ns: &str) -> bool {
    match other {
        Endpoint::Pod(pod) => {
            if rule_peer.get("ipBlock").is_some() {
                return false;
            }
            let namespace_ok = match rule_peer.get("namespaceSelector") {
                None => pod.namespace == policy_ns,
                Some(sel) => selector_matches(sel, &namespace_labels(&pod.namespace)),
            };
            namespace_ok
                && rule_peer
                    .get("podSelector")
                    .is_none_or(|sel| selector_matches(sel, &pod.labels))
        }
        Endpoint::Network { address, prefix } => rule_peer
            .get("ipBlock")
            .is_some_and(|block| block_admits(block, *address, *prefix)),
    }
}

/// One `ports` entry: protocol (default TCP) and a number, a range (`endPort`), a name resolved on
/// the destination pod, or no port (every port).
fn port_admits(entry: &Value, destination: &Endpoint, port: i64, protocol: &str) -> bool {
    entry["protocol"].as_str().unwrap_or("TCP") == protocol
        && match &entry["port"] {
            Value::Null => true,
            Value::Number(first) => {
                let first = first.as_i64().unwrap_or(-1);
                let last = entry["endPort"].as_i64().unwrap_or(first);
                (first..=last).contains(&port)
            }
            Value::String(name) => destination.pod().is_some_and(|pod| {
                pod.ports
                    .iter()
                    .any(|p| &p.name == name && p.number == port && p.protocol == protocol)
            }),
            _ => false,
        }
}

/// The labels every namespace carries (the API server sets kubernetes.io/metadata.name).
fn namespace_labels(name: &str) -> Map<String, Value> {
    Map::from_iter([("kubernetes.io/metadata.name".to_string(), json!(name))])
}

/// Whether every address of the network is in the block's CIDR and in none of its exceptions.
fn block_admits(block: &Value, address: [u8; 4], prefix: u32) -> bool {
    let network = (u32::from_be_bytes(address), prefix);
    let parsed = |cidr: &Value| {
        cidr.as_str()
            .and_then(parse_cidr)
            .map(|(a, p)| (u32::from_be_bytes(a), p))
    };
    parsed(&block["cidr"]).is_some_and(|cidr| contains(cidr, network))
        && !block["except"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(parsed)
            .any(|except| contains(except, network) || contains(network, except))
}

/// Whether network `outer` contains network `inner`.
fn contains(outer: (u32, u32), inner: (u32, u32)) -> bool {
    let mask = |bits: u32| u32::MAX.checked_shl(32 - bits.min(32)).unwrap_or(0);
    outer.1 <= inner.1 && outer.0 & mask(outer.1) == inner.0 & mask(outer.1)
}

fn parse_cidr(cidr: &str) -> Option<([u8; 4], u32)> {
    let (address, bits) = cidr.split_once('/')?;
    let octets: Vec<u8> = address
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let bits: u32 = bits.parse().ok()?;
    (bits <= 32).then_some((octets.try_into().ok()?, bits))
}
