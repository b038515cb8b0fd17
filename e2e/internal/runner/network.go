package runner

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// NetnsPrefix names the network namespace of each pod the runner starts.
const NetnsPrefix = "greeter-pod-"

// Gateway is every pod's default gateway: a link-local address of the cluster's namespace (on its
// loopback), which the node side of every pod's veth answers ARP for (routed pod networking, as
// Calico does it), so the pod's traffic reaches the cluster's namespace, where kube-proxy's rules
// and the routes to the other pods are.
const Gateway = "169.254.1.1"

// podNetwork is a pod's own network namespace: loopback, eth0 with the pod's address, and a
// route to it from the cluster's namespace through a veth pair.
type podNetwork struct {
	netns string // ip netns name
	link  string // the veth end in the cluster's namespace
}

func newPodNetwork(uid types.UID) podNetwork {
	id := strings.ReplaceAll(string(uid), "-", "")[:10]
	return podNetwork{netns: NetnsPrefix + id, link: "gp" + id}
}

// Path is where the namespace is bound (for setns).
func (n podNetwork) Path() string { return filepath.Join("/var/run/netns", n.netns) }

// setUp creates the namespace and wires address ip into it (idempotent across runner restarts).
func (n podNetwork) setUp(ip string) error {
	if _, err := os.Stat(n.Path()); err == nil {
		return nil
	}
	steps := [][]string{
		{"netns", "add", n.netns},
		{"link", "add", n.link, "type", "veth", "peer", "name", "eth0", "netns", n.netns},
		{"-n", n.netns, "link", "set", "lo", "up"},
		{"-n", n.netns, "addr", "add", ip + "/32", "dev", "eth0"},
		{"-n", n.netns, "link", "set", "eth0", "up"},
		{"-n", n.netns, "route", "add", Gateway, "dev", "eth0"},
		{"-n", n.netns, "route", "add", "default", "via", Gateway, "dev", "eth0"},
		{"link", "set", n.link, "up"},
		{"route", "add", ip + "/32", "dev", n.link},
		// Unprivileged ports from 0, as containerd 2's CRI does by default (enable_unprivileged_ports):
		// non-root CoreDNS binds :53.
		{"netns", "exec", n.netns, "sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=0"},
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// tearDown removes the namespace (and with it the veth pair and its route).
func (n podNetwork) tearDown() {
	_ = exec.Command("ip", "netns", "del", n.netns).Run()
}
