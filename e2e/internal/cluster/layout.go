// Package cluster runs a Kubernetes control plane built from pinned upstream sources (tools/upstream)
// on this machine: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok nodes,
// kube-proxy, CoreDNS and a pod runner that starts the real process behind every pod whose image
// it knows. Everything runs inside one network namespace, so the cluster's addresses never touch
// the machine's own network; the API server is reachable from the host through one loopback port.
package cluster

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// Network layout inside the cluster's network namespace. Every range is assigned to the
// namespace's loopback device, so any address in it is local there (like 127.0.0.0/8 is).
// Pod and node addresses cannot be loopback addresses themselves: the API server refuses them in
// Endpoints and EndpointSlices (k8s.io/kubernetes pkg/apis/core/validation ValidateEndpointIP).
var (
	// NodeNetwork holds the API server's advertise address and the nodes' InternalIPs.
	NodeNetwork = netip.MustParsePrefix("10.250.0.0/16")
	// APIServerAddress is where the API server listens inside the namespace (the kubernetes
	// Service's endpoint).
	APIServerAddress = netip.MustParseAddr("10.250.0.1")
	// ServiceNetwork is the Service ClusterIP range; the kubernetes Service gets its first address.
	ServiceNetwork = netip.MustParsePrefix("10.96.0.0/16")
	// DNSServiceAddress is the kube-dns Service's ClusterIP (the pods' nameserver).
	DNSServiceAddress = netip.MustParseAddr("10.96.0.10")
	// PodNetwork is the cluster CIDR: kube-controller-manager gives each node a /24 of it, from
	// which kwok addresses the pods it simulates.
	PodNetwork = netip.MustParsePrefix("10.244.0.0/16")
	// ProcessPodNetwork addresses the pods whose processes the runner starts. A range of its own
	// because kwok keeps its address pools in memory and would hand out the same address again.
	ProcessPodNetwork = netip.MustParsePrefix("10.245.0.0/16")
	// ClusterNetwork covers both pod ranges (kube-proxy's --cluster-cidr).
	ClusterNetwork = netip.MustParsePrefix("10.244.0.0/15")
	// ManagedRedisAddress is where the managed-Redis stand-in listens (managedredis.go): outside
	// every range of the cluster, as a managed service's private address is, and inside
	// 10.0.0.0/8, where prod's NetworkPolicy lets the greeter reach port 6380.
	ManagedRedisAddress = netip.MustParseAddr("10.251.0.10")
	// GitHubStandInAddress is where a stand-in for GitHub's API listens (internal/dispatch): local
	// in the namespace (the node network's range is), reachable from every pod, and no node's.
	GitHubStandInAddress = netip.MustParseAddr("10.250.255.254")
)

const (
	// Namespace is the network namespace (ip netns) the cluster runs in.
	Namespace = "greeter-cluster"
	// APIServerPort is the API server's port inside the namespace.
	APIServerPort = 6443
	// DefaultHostPort is the loopback port on the host that forwards to the API server.
	DefaultHostPort = 16443
	// ClusterDomain is the DNS domain of Services.
	ClusterDomain = "cluster.local"
	// NodeLabel marks the nodes kwok manages.
	NodeLabel = "type"
	// NodeLabelValue is NodeLabel's value on kwok nodes.
	NodeLabelValue = "kwok"
)

// Layout is where one cluster keeps its state: ROOT/.cluster by default.
type Layout struct {
	// Repo is the repository root.
	Repo string
	// Dir is the state directory.
	Dir string
	// External is the kubeconfig of a cluster this program did not start (kind, for `platform`);
	// empty for the test cluster.
	External string
}

// adminKubeconfig is the administrator's kubeconfig as seen from where this program runs.
func (l Layout) adminKubeconfig() string {
	if l.External != "" {
		return l.External
	}
	return l.InsideKubeconfig()
}

// NewLayout returns the layout of the cluster for the repository at repo.
func NewLayout(repo string) Layout {
	dir := os.Getenv("GREETER_CLUSTER_DIR")
	if dir == "" {
		dir = filepath.Join(repo, ".cluster")
	}
	return Layout{Repo: repo, Dir: dir}
}

func (l Layout) path(parts ...string) string {
	return filepath.Join(append([]string{l.Dir}, parts...)...)
}

// Kubeconfig is the administrator kubeconfig for the host (through the loopback port).
func (l Layout) Kubeconfig() string { return l.path("kubeconfig") }

// InsideKubeconfig is the administrator kubeconfig for processes inside the namespace.
func (l Layout) InsideKubeconfig() string { return l.path("kubeconfig.inside") }

// PKI is the certificate directory.
func (l Layout) PKI(name string) string { return l.path("pki", name) }

// Log is the log file of a process.
func (l Layout) Log(name string) string { return l.path("logs", name+".log") }

// PIDFile records the PID of a process the cluster started.
func (l Layout) PIDFile(name string) string { return l.path("pids", name+".pid") }

// PIDDir holds every PID file.
func (l Layout) PIDDir() string { return l.path("pids") }

// Data is a process's data directory (etcd's store, the runner's pods).
func (l Layout) Data(name string) string { return l.path("data", name) }

// Config is a generated configuration file.
func (l Layout) Config(name string) string { return l.path("config", name) }

// GreeterCABundle is the CA bundle of the greeter's image in this cluster (images.CABundle).
func (l Layout) GreeterCABundle() string { return l.PKI("greeter-ca-certificates.crt") }

// HostPortFile records the host port of the API server forward.
func (l Layout) HostPortFile() string { return l.path("host-port") }

// Bin is a binary built by scripts/upstream (its cache), or by scripts/cluster for the harness.
func (l Layout) Bin(name string) string {
	cache := os.Getenv("GREETER_UPSTREAM_CACHE")
	if cache == "" {
		cache = filepath.Join(l.Repo, ".cache", "upstream")
	}
	return filepath.Join(cache, "bin", name)
}

// mustPrefixAddr is the n-th address of a prefix.
func nthAddr(prefix netip.Prefix, n int) netip.Addr {
	addr := prefix.Masked().Addr()
	for range n {
		addr = addr.Next()
	}
	if !prefix.Contains(addr) {
		panic(fmt.Sprintf("address %d is outside %s", n, prefix))
	}
	return addr
}
