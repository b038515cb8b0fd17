//! The platform's pods as the NetworkPolicies name them: the labels every policy selects them by
//! (a subset of what the pinned charts and operators really put on the pods, rendered with helm
//! from argocd/platform/) and the container ports named ports resolve to. One definition each, so
//! moving a component changes one function here and the tests then point at every manifest that
//! still names the old one. Pods a controller creates in the greeter namespaces (the gateway's data
//! plane, the ACME solver) come from crate::runtime_pods.

use super::Pod;
use crate::runtime_pods::{self, NGF_RELEASE};

/// NGINX Gateway Fabric's control plane (chart 2.6.7 `nginx-gateway.selectorLabels`, release
/// nginx-gateway-fabric, namespace nginx-gateway; ports from templates/deployment.yaml), which the
/// data planes' nginx-agent dials for their configuration.
pub fn nginx_gateway_control_plane() -> Pod {
    Pod::new(
        "nginx-gateway",
        &[
            ("app.kubernetes.io/name", "nginx-gateway-fabric"),
            ("app.kubernetes.io/instance", NGF_RELEASE),
        ],
    )
    .with_ports(&[
        ("agent-grpc", 8443, "TCP"),
        ("metrics", 9113, "TCP"),
        ("health", 8081, "TCP"),
    ])
}

/// The Prometheus of kube-prometheus-stack (pods of the operator's StatefulSet; prometheus-operator
/// v0.93.0 `pkg/prometheus/server/statefulset_test.go` expected pod labels).
pub fn prometheus() -> Pod {
    Pod::new("monitoring", &[("app.kubernetes.io/name", "prometheus")])
}

/// kube-prometheus-stack's Grafana (grafana chart 12.10.4 selectorLabels, release
/// kube-prometheus-stack).
pub fn grafana() -> Pod {
    Pod::new(
        "monitoring",
        &[
            ("app.kubernetes.io/name", "grafana"),
            ("app.kubernetes.io/instance", "kube-prometheus-stack"),
        ],
    )
}

/// The cluster DNS (CoreDNS keeps the kube-dns label and ports).
pub fn cluster_dns() -> Pod {
    Pod::new("kube-system", &[("k8s-app", "kube-dns")]).with_ports(&[
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
        ("metrics", 9153, "TCP"),
    ])
}

/// The OpenTelemetry collector Deployment (opentelemetry-collector chart selectorLabels, release
/// opentelemetry-collector; ports as rendered with argocd/platform/values/opentelemetry-collector.yaml).
pub fn otel_collector() -> Pod {
    Pod::new(
        "observability",
        &[
            ("app.kubernetes.io/name", "opentelemetry-collector"),
            ("app.kubernetes.io/instance", "opentelemetry-collector"),
        ],
    )
    .with_ports(&[
        ("metrics", 8888, "TCP"),
        ("otlp", 4317, "TCP"),
        ("otlp-http", 4318, "TCP"),
    ])
}

/// Tempo single binary (tempo chart StatefulSet `tempo`, selectorLabels, release tempo; container
/// ports from `templates/statefulset.yaml`: 3200 serves the query API and /metrics).
pub fn tempo() -> Pod {
    Pod::new(
        "observability",
        &[
            ("app.kubernetes.io/name", "tempo"),
            ("app.kubernetes.io/instance", "tempo"),
        ],
    )
    .with_ports(&[
        ("prom-metrics", 3200, "TCP"),
        ("jaeger-thrift-c", 6831, "UDP"),
        ("jaeger-thrift-b", 6832, "UDP"),
        ("jaeger-thrift-h", 14268, "TCP"),
        ("jaeger-grpc", 14250, "TCP"),
        ("zipkin", 9411, "TCP"),
        ("otlp-legacy", 55680, "TCP"),
        ("otlp-grpc", 4317, "TCP"),
        ("otlp-httplegacy", 55681, "TCP"),
        ("otlp-http", 4318, "TCP"),
    ])
}

/// The pod cert-manager v1.21.1 creates for an HTTP-01 challenge in `namespace`.
pub fn acme_http01_solver(namespace: &str) -> Pod {
    Pod::of_workload(&runtime_pods::acme_http01_solver(namespace))
}
