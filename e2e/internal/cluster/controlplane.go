package cluster

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const etcdClientURL = "http://127.0.0.1:2379"

// startEtcd starts etcd (plain HTTP on the namespace's loopback; its data is disposable, so
// fsync is off) and waits for /health.
func startEtcd(l Layout) error {
	argv := []string{
		l.Bin("etcd"),
		"--name=greeter-cluster",
		"--data-dir=" + l.Data("etcd"),
		"--listen-client-urls=" + etcdClientURL,
		"--advertise-client-urls=" + etcdClientURL,
		"--listen-peer-urls=http://127.0.0.1:2380",
		"--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=greeter-cluster=http://127.0.0.1:2380",
		"--listen-metrics-urls=http://127.0.0.1:2381",
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
	if err := startDaemon(l, "etcd", argv, nil); err != nil {
		return err
	}
	return waitFor("etcd", 30*time.Second, func() error {
		resp, err := http.Get("http://127.0.0.1:2381/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("etcd /health: %s", resp.Status)
		}
		return nil
	})
}

// startAPIServer starts kube-apiserver with the admission plugins a real cluster enables by
// default (PodSecurity among them), Node and RBAC authorization and service-account tokens.
func startAPIServer(l Layout) error {
	argv := []string{
		l.Bin("kube-apiserver"),
		"--advertise-address=" + APIServerAddress.String(),
		"--bind-address=0.0.0.0",
		"--secure-port=" + strconv.Itoa(APIServerPort),
		"--etcd-servers=" + etcdClientURL,
		"--service-cluster-ip-range=" + ServiceNetwork.String(),
		"--client-ca-file=" + l.PKI("ca.crt"),
		"--tls-cert-file=" + l.PKI("apiserver.crt"),
		"--tls-private-key-file=" + l.PKI("apiserver.key"),
		"--service-account-issuer=https://kubernetes.default.svc." + ClusterDomain,
		"--service-account-key-file=" + l.PKI("sa.pub"),
		"--service-account-signing-key-file=" + l.PKI("sa.key"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	}
	if err := startDaemon(l, "kube-apiserver", argv, nil); err != nil {
		return err
	}
	client, err := adminClient(l)
	if err != nil {
		return err
	}
	return waitFor("kube-apiserver", 90*time.Second, func() error {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(body)))
		}
		return nil
	})
}

// startControllerManager starts kube-controller-manager: every default controller, node CIDR
// allocation from the pod network, service-account tokens per controller.
func startControllerManager(l Layout) error {
	kubeconfig := l.componentKubeconfig("controller-manager")
	argv := []string{
		l.Bin("kube-controller-manager"),
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--service-account-private-key-file=" + l.PKI("sa.key"),
		"--root-ca-file=" + l.PKI("ca.crt"),
		"--cluster-signing-cert-file=" + l.PKI("ca.crt"),
		"--cluster-signing-key-file=" + l.PKI("ca.key"),
		"--use-service-account-credentials=true",
		"--allocate-node-cidrs=true",
		"--cluster-cidr=" + PodNetwork.String(),
		"--node-cidr-mask-size=24",
		"--service-cluster-ip-range=" + ServiceNetwork.String(),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--v=1",
	}
	if err := startDaemon(l, "kube-controller-manager", argv, nil); err != nil {
		return err
	}
	client, err := adminClient(l)
	if err != nil {
		return err
	}
	// The service-account controller creating `default` in every namespace shows it runs.
	return waitFor("kube-controller-manager", 60*time.Second, func() error {
		_, err := client.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", getOptions)
		return err
	})
}

// startScheduler starts kube-scheduler with its default profile.
func startScheduler(l Layout) error {
	kubeconfig := l.componentKubeconfig("scheduler")
	argv := []string{
		l.Bin("kube-scheduler"),
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--v=1",
	}
	if err := startDaemon(l, "kube-scheduler", argv, nil); err != nil {
		return err
	}
	return waitFor("kube-scheduler", 30*time.Second, func() error {
		resp, err := insecureGet("https://127.0.0.1:10259/healthz")
		if err != nil {
			return err
		}
		if resp != http.StatusOK {
			return fmt.Errorf("kube-scheduler /healthz: %d", resp)
		}
		return nil
	})
}

// adminClient is a client for the administrator inside the namespace.
func adminClient(l Layout) (*kubernetes.Clientset, error) {
	config, err := clientcmd.BuildConfigFromFlags("", l.adminKubeconfig())
	if err != nil {
		return nil, err
	}
	config.QPS, config.Burst = 100, 200
	return kubernetes.NewForConfig(config)
}
