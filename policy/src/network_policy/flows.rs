//! Exact flows: the policies admit every listed connection and nothing else.
//!
//! Listed connections must pass both ends. "Nothing else" holds for each checked end on its own
//! (a wide ingress rule is a hole even while the senders' egress happens to be closed), and is
//! checked two ways. Every connection of a checked party with the other parties, a pod nobody
//! listed in each of their namespaces and in another namespace, and a few outside addresses, on
//! every port a pod or rule names plus an unlisted one, in TCP, UDP and SCTP, is evaluated as the
//! API does; those the checked end admits must be listed. And every rule, taken apart into single peers (one per
//! value of an `In` selector) and single ports, must admit at least one listed connection, so a rule
//! for an end nobody listed fails even though that end is not among the probes.
//!
//! A connection from ANYONE (a public edge) is a promise of the receiver's ingress alone: it must
//! admit every end of that universe on the port, and it lists those connections for the
//! receiver's ingress only — a sender's egress stays its own.

use super::{
    admits, peer_admits, policy_types, port_admits, rules, selects, side_admits, Endpoint, Pod,
    Side,
};
use crate::objects::{id, namespace, of_kind};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One named end of connections: a pod whose traffic the policies must pin down on the `checked`
/// sides (Ingress: everything it receives; Egress: everything it sends), or, with nothing checked,
/// an end the checked pods talk to.
#[derive(Clone)]
pub struct Party {
    pub name: String,
    pub endpoint: Endpoint,
    pub checked: Vec<Side>,
}

impl Party {
    pub fn checked(name: &str, pod: Pod, sides: &[Side]) -> Party {
        Party {
            name: name.to_string(),
            endpoint: Endpoint::Pod(pod),
            checked: sides.to_vec(),
        }
    }

    pub fn peer(name: &str, endpoint: Endpoint) -> Party {
        Party {
            name: name.to_string(),
            endpoint,
            checked: Vec::new(),
        }
    }
}

/// The sender of a connection open to everyone: every pod, anywhere, and every outside address
/// (`Connection::new(ANYONE, ...)`), e.g. the clients of the public edge.
pub const ANYONE: &str = "anyone";

/// A connection the platform needs, between two parties by name (or from ANYONE).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Connection {
    pub from: String,
    pub to: String,
    pub port: i64,
    pub protocol: String,
}

impl Connection {
    pub fn new(from: &str, to: &str, port: i64, protocol: &str) -> Connection {
        Connection {
            from: from.to_string(),
            to: to.to_string(),
            port,
            protocol: protocol.to_string(),
        }
    }
}

/// Outside addresses probed besides the parties' own (a listed network's neighbours are added).
const PROBE_ADDRESSES: [([u8; 4], &str); 6] = [
    ([93, 184, 216, 34], "an internet address"),
    ([169, 254, 169, 254], "the cloud metadata service"),
    ([169, 254, 20, 10], "the NodeLocal DNSCache address"),
    ([10, 0, 0, 1], "a private address"),
    ([172, 16, 0, 1], "a private address"),
    ([192, 168, 0, 1], "a private address"),
];

/// A port no party listens on and no rule names.
const UNLISTED_PORT: i64 = 1;
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

/// What the policies get wrong about the listed connections: missing ones, admitted unlisted
/// ones, and rules that admit nothing listed.
pub fn problems(policies: &[Value], parties: &[Party], expected: &[Connection]) -> Vec<String> {
    let universe = universe(parties);
    let endpoint = |name: &str| parties.iter().find(|p| p.name == name).map(|p| &p.endpoint);
    let mut problems = Vec::new();
    for c in expected {
        match (c.from.as_str(), endpoint(&c.from), endpoint(&c.to)) {
            // Open to everyone: the receiver's ingress admits every other end of the universe.
            (ANYONE, _, Some(to)) => {
                let refused: Vec<&str> = universe
                    .iter()
                    .filter(|p| p.name != c.to)
                    .filter(|p| {
                        !side_admits(
                            policies,
                            Side::Ingress,
                            &p.endpoint,
                            to,
                            c.port,
                            &c.protocol,
                        )
                    })
                    .map(|p| p.name.as_str())
                    .collect();
                if !refused.is_empty() {
                    problems.push(format!(
                        "{} must be admitted (the ingress of {} refuses {})",
                        describe(c),
                        c.to,
                        refused.join(", ")
                    ));
                }
            }
            (_, Some(from), Some(to)) => {
                if !admits(policies, from, to, c.port, &c.protocol) {
                    problems.push(format!("{} must be admitted", describe(c)));
                }
            }
            _ => problems.push(format!("{} names an unknown party", describe(c))),
        }
    }
    problems.extend(unlisted_connections(policies, parties, expected));
    problems.extend(rules_admitting_nothing_listed(policies, parties, expected));
    problems
}

/// Whether a connection is listed for one side: itself, or (for the receiver's ingress) the same
/// connection from ANYONE.
fn listed(expected: &[Connection], connection: &Connection, side: Side) -> bool {
    expected.contains(connection)
        || (side == Side::Ingress
            && expected.contains(&Connection::new(
                ANYONE,
                &connection.to,
                connection.port,
                &connection.protocol,
            )))
}

fn describe(c: &Connection) -> String {
    format!("{} -> {} {}/{}", c.from, c.to, c.port, c.protocol)
}

/// Connections a checked end admits that are not listed, one line per pair of ends and side.
fn unlisted_connections(
    policies: &[Value],
    parties: &[Party],
    expected: &[Connection],
) -> Vec<String> {
    let universe = universe(parties);
    let ports = ports(policies, parties, expected);
    let mut unlisted: BTreeMap<(&str, &str, Side), Vec<String>> = BTreeMap::new();
    for (from_index, from) in universe.iter().enumerate() {
        for (to_index, to) in universe.iter().enumerate() {
            if from_index == to_index {
                continue;
            }
            let sides = [
                (Side::Egress, from.checked.contains(&Side::Egress)),
                (Side::Ingress, to.checked.contains(&Side::Ingress)),
            ];
            for side in sides
                .into_iter()
                .filter_map(|(s, checked)| checked.then_some(s))
            {
                for port in &ports {
                    for protocol in PROTOCOLS {
                        let connection = Connection::new(&from.name, &to.name, *port, protocol);
                        if side_admits(
                            policies,
                            side,
                            &from.endpoint,
                            &to.endpoint,
                            *port,
                            protocol,
                        ) && !listed(expected, &connection, side)
                        {
                            unlisted
                                .entry((&from.name, &to.name, side))
                                .or_default()
                                .push(format!("{port}/{protocol}"));
                        }
                    }
                }
            }
        }
    }
    unlisted
        .into_iter()
        .map(|((from, to, side), ports)| {
            let owner = if side == Side::Ingress { to } else { from };
            format!(
                "{from} -> {to} is admitted by the {} of {owner} but not listed ({})",
                side.rules_field(),
                ports.join(", ")
            )
        })
        .collect()
}

/// The parties, a pod nobody listed in each of their namespaces and in another namespace, and
/// outside addresses: the probe addresses not inside a listed network, and each listed network's
/// neighbours (so a wider CIDR shows).
fn universe(parties: &[Party]) -> Vec<Party> {
    let unlisted_labels = [("app.kubernetes.io/name", "unlisted")];
    let namespaces: BTreeSet<&str> = parties
        .iter()
        .filter_map(|p| p.endpoint.pod())
        .map(|pod| pod.namespace.as_str())
        .collect();
    let networks: Vec<(u32, u32)> = parties
        .iter()
        .filter_map(|p| match p.endpoint {
            Endpoint::Network { address, prefix } => Some((u32::from_be_bytes(address), prefix)),
            Endpoint::Pod(_) => None,
        })
        .collect();
    let inside_listed = |address: u32| {
        networks
            .iter()
            .any(|(net, prefix)| super::contains((*net, *prefix), (address, 32)))
    };
    let mut universe = parties.to_vec();
    for ns in namespaces {
        universe.push(Party::peer(
            &format!("another pod in {ns}"),
            Endpoint::Pod(Pod::new(ns, &unlisted_labels)),
        ));
    }
    universe.push(Party::peer(
        "a pod in another namespace",
        Endpoint::Pod(Pod::new("unlisted", &unlisted_labels)),
    ));
    for (address, what) in PROBE_ADDRESSES {
        if !inside_listed(u32::from_be_bytes(address)) {
            let endpoint = Endpoint::address(address);
            universe.push(Party::peer(&format!("{what} ({endpoint})"), endpoint));
        }
    }
    for (net, prefix) in &networks {
        let size = 1u64 << (32 - prefix);
        for neighbour in [u64::from(*net).checked_sub(1), Some(u64::from(*net) + size)] {
            if let Some(address) = neighbour.and_then(|a| u32::try_from(a).ok()) {
                let address = address.to_be_bytes();
                let endpoint = Endpoint::address(address);
                universe.push(Party::peer(
                    &format!("{endpoint} (next to a listed network)"),
                    endpoint,
                ));
            }
        }
    }
    universe
}

/// Every port a party listens on, a listed connection uses or a rule names (range ends
/// included), plus one nobody names.
fn ports(policies: &[Value], parties: &[Party], expected: &[Connection]) -> BTreeSet<i64> {
    let mut ports: BTreeSet<i64> = expected.iter().map(|c| c.port).collect();
    ports.insert(UNLISTED_PORT);
    ports.extend(
        parties
            .iter()
            .filter_map(|p| p.endpoint.pod())
            .flat_map(|pod| pod.ports.iter().map(|p| p.number)),
    );
    for np in of_kind(policies, "NetworkPolicy") {
        for side in Side::BOTH {
            for rule in rules(np, side) {
                for entry in rule["ports"].as_array().into_iter().flatten() {
                    ports.extend(entry["port"].as_i64());
                    ports.extend(entry["endPort"].as_i64());
                }
            }
        }
    }
    ports
}

/// Rules (per single peer and single port) that admit none of the listed connections, and rules
/// the API ignores because the policy does not govern their direction.
fn rules_admitting_nothing_listed(
    policies: &[Value],
    parties: &[Party],
    expected: &[Connection],
) -> Vec<String> {
    let universe = universe(parties);
    let endpoint = |name: &str| {
        universe
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.endpoint)
    };
    // A connection from ANYONE stands for one from every other end of the universe, and only the
    // receiver's ingress rules may admit it.
    let listed: Vec<(&Endpoint, &Endpoint, &Connection, Option<Side>)> = expected
        .iter()
        .flat_map(|c| {
            let senders: Vec<(&str, Option<Side>)> = if c.from == ANYONE {
                universe
                    .iter()
                    .filter(|p| p.name != c.to)
                    .map(|p| (p.name.as_str(), Some(Side::Ingress)))
                    .collect()
            } else {
                vec![(c.from.as_str(), None)]
            };
            senders
                .into_iter()
                .filter_map(move |(from, only)| Some((endpoint(from)?, endpoint(&c.to)?, c, only)))
        })
        .collect();
    let mut problems = Vec::new();
    for np in of_kind(policies, "NetworkPolicy") {
        for side in Side::BOTH {
            let side_rules = rules(np, side);
            if side_rules.is_empty() {
                continue;
            }
            if !policy_types(np).contains(&side) {
                problems.push(format!(
                    "{}: its {} rules are ignored (policyTypes lacks {})",
                    id(np),
                    side.rules_field(),
                    side.policy_type()
                ));
                continue;
            }
            for (index, rule) in side_rules.iter().enumerate() {
                let peers = single_peers(&rule[side.peers_field()]);
                let ports = single_ports(&rule["ports"]);
                for peer in &peers {
                    for port in &ports {
                        let admits_listed = listed.iter().any(|(from, to, c, only)| {
                            if only.is_some_and(|s| s != side) {
                                return false;
                            }
                            let (own, other) = match side {
                                Side::Ingress => (to, from),
                                Side::Egress => (from, to),
                            };
                            own.pod().is_some_and(|pod| selects(np, pod))
                                && peer
                                    .as_ref()
                                    .is_none_or(|p| peer_admits(p, other, namespace(np)))
                                && port
                                    .as_ref()
                                    .is_none_or(|p| port_admits(p, to, c.port, &c.protocol))
                        });
                        if !admits_listed {
                            problems.push(format!(
                                "{}: {} rule {index} admits none of the listed connections with {} {} on {}",
                                id(np),
                                side.rules_field(),
                                side.peers_field(),
                                peer.as_ref().map_or("anything".into(), Value::to_string),
                                port.as_ref().map_or("any port".into(), Value::to_string),
                            ));
                        }
                    }
                }
            }
        }
    }
    problems
}

/// The peers of a rule one by one, each `In` selector split into one peer per value; `None` for a
/// rule without peers (it admits everything).
fn single_peers(peers: &Value) -> Vec<Option<Value>> {
    let Some(peers) = peers.as_array().filter(|p| !p.is_empty()) else {
        return vec![None];
    };
    let mut singles = Vec::new();
    for peer in peers {
        let mut split = vec![peer.clone()];
        for selector in ["namespaceSelector", "podSelector"] {
            let expressions = peer[selector]["matchExpressions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for (index, expression) in expressions.iter().enumerate() {
                let values = expression["values"].as_array().cloned().unwrap_or_default();
                if expression["operator"] != "In" || values.len() < 2 {
                    continue;
                }
                split = split
                    .into_iter()
                    .flat_map(|p| {
                        values.iter().map(move |value| {
                            let mut single = p.clone();
                            single[selector]["matchExpressions"][index]["values"] = json!([value]);
                            single
                        })
                    })
                    .collect();
            }
        }
        singles.extend(split.into_iter().map(Some));
    }
    singles
}

/// The port entries of a rule one by one; `None` for a rule without ports (every port).
fn single_ports(ports: &Value) -> Vec<Option<Value>> {
    match ports.as_array().filter(|p| !p.is_empty()) {
        Some(ports) => ports.iter().cloned().map(Some).collect(),
        None => vec![None],
    }
}
