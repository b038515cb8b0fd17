//! The platform's pods as the NetworkPolicies name them: the labels every policy selects them by
//! (a subset of what the pinned charts and operators really put on the pods, rendered with helm
//! from argocd/platform/) and the container ports named ports resolve to. One definition each, so
//! moving a component (ingress-nginx to a Gateway API data plane) changes one function here and the
//! tests then point at every manifest that still names the old one.

use super::Pod;

/// Where public traffic enters: every request to the greeter Ingress and cert-manager's HTTP-01
/// self-check pass through it. ingress-nginx 4.14.1 controller pods
/// (chart `_helpers.tpl` selectorLabels, `hostNetwork: false`), so the edge reaches pod ports.
pub fn edge() -> Pod {
    Pod::new(
        "ingress-nginx",
        &[("app.kubernetes.io/name", "ingress-nginx")],
    )
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

/// The pod cert-manager v1.21.1 creates for an HTTP-01 challenge, in the namespace of the
/// Certificate (`pkg/issuer/acme/http/pod.go`: labels 35-47 — the domain and token labels carry
/// per-challenge hashes, so only the solver label is stable —, namespace 205-214, container port
/// `http` = `acmeSolverListenPort` 8089, `http.go:49`).
pub fn acme_http01_solver(namespace: &str) -> Pod {
    Pod::new(
        namespace,
        &[
            ("acme.cert-manager.io/http01-solver", "true"),
            ("acme.cert-manager.io/http-domain", "1234567"),
            ("acme.cert-manager.io/http-token", "7654321"),
        ],
    )
    .with_ports(&[("http", 8089, "TCP")])
}
