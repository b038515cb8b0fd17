package cluster

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// addonsManifest is what a cluster installer adds to every cluster: CoreDNS (as kubeadm v1.35
// installs it: cmd/kubeadm/app/phases/addons/dns) and a default StorageClass.
//
//go:embed addons.yaml
var addonsManifest string

// startKubeProxy starts the real kube-proxy (nftables mode) for the whole namespace: Service
// ClusterIPs are DNATed to ready endpoints exactly as on a node.
func startKubeProxy(l Layout) error {
	config := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clusterCIDR: %s
hostnameOverride: node-a-1
clientConnection:
  kubeconfig: %s
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# The conntrack table size is a machine-wide setting: leave it to the machine.
conntrack:
  maxPerCore: 0
`, ClusterNetwork, l.componentKubeconfig("kube-proxy"))
	path := l.Config("kube-proxy.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return err
	}
	if err := startDaemon(l, "kube-proxy", []string{l.Bin("kube-proxy"), "--config=" + path, "--v=1"}, nil); err != nil {
		return err
	}
	return waitFor("kube-proxy", 30*time.Second, func() error {
		out, err := exec.Command("nft", "list", "table", "ip", "kube-proxy").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		if !strings.Contains(string(out), nthAddr(ServiceNetwork, 1).String()) {
			return fmt.Errorf("no rule for the kubernetes Service yet")
		}
		return nil
	})
}

// startRunner starts the pod runner daemon (this program's `runner` subcommand).
func startRunner(l Layout, self string) error {
	argv := []string{self, "runner"}
	env := []string{"GREETER_REPO=" + l.Repo, "GREETER_CLUSTER_DIR=" + l.Dir}
	if err := startDaemon(l, "runner", argv, env); err != nil {
		return err
	}
	return waitFor("runner", 10*time.Second, func() error {
		if !running(l, "runner") {
			return fmt.Errorf("runner exited (see %s)", l.Log("runner"))
		}
		return nil
	})
}

// installAddons applies the add-ons server-side and waits until cluster DNS answers.
func installAddons(l Layout) error {
	kubectl := exec.Command(l.Bin("kubectl"), "--kubeconfig", l.adminKubeconfig(),
		"apply", "--server-side", "--field-manager=greeter-cluster", "-f", "-")
	kubectl.Stdin = strings.NewReader(addonsManifest)
	if out, err := kubectl.CombinedOutput(); err != nil {
		return fmt.Errorf("apply add-ons: %w: %s", err, out)
	}
	client, err := adminClient(l)
	if err != nil {
		return err
	}
	return waitFor("CoreDNS", 120*time.Second, func() error {
		pods, err := client.CoreV1().Pods("kube-system").List(context.Background(), metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
		if err != nil {
			return err
		}
		for _, pod := range pods.Items {
			for _, condition := range pod.Status.Conditions {
				if condition.Type == corev1.PodReady && condition.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		return fmt.Errorf("no Ready CoreDNS pod yet (runner log: %s)", l.Log("runner"))
	})
}
