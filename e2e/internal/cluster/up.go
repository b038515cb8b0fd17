package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Options of `cluster up`.
type Options struct {
	Topology Topology
	HostPort int
	// Self is this program's path: the daemons it runs (gateway, runner) are subcommands of it.
	Self string
}

// Up starts the cluster unless it already runs healthy. The host part (network namespace,
// certificates, the gateway) runs here; everything else runs inside the namespace (UpInside).
func Up(l Layout, opts Options) error {
	if Healthy(l) == nil {
		return nil
	}
	if _, err := os.Stat(l.PIDDir()); err == nil {
		return errors.New("a cluster was started here but is not healthy (scripts/cluster status): run scripts/cluster down first")
	}
	if os.Geteuid() != 0 {
		return errors.New("the cluster needs root: network namespaces, mount namespaces for pods, DNS on port 53 (run with sudo)")
	}
	if err := createNetns(); err != nil {
		return err
	}
	if err := writePKI(l); err != nil {
		return err
	}
	if err := writeManagedRedisPKI(l); err != nil {
		return err
	}
	if err := writeKubeconfigs(l, opts.HostPort); err != nil {
		return err
	}
	if err := os.WriteFile(l.HostPortFile(), []byte(strconv.Itoa(opts.HostPort)), 0o644); err != nil {
		return err
	}
	if err := renderPlatform(l, true); err != nil {
		return err
	}
	gateway := []string{opts.Self, "gateway", "--listen", "127.0.0.1:" + strconv.Itoa(opts.HostPort),
		"--target", fmt.Sprintf("%s:%d", APIServerAddress, APIServerPort)}
	if err := startDaemon(l, "gateway", gateway, nil); err != nil {
		return err
	}
	argv := inNamespace(opts.Self, "up-inside",
		"--zones", strconv.Itoa(opts.Topology.Zones),
		"--nodes-per-zone", strconv.Itoa(opts.Topology.NodesPerZone))
	inside := exec.Command(argv[0], argv[1:]...)
	inside.Stdout, inside.Stderr = os.Stdout, os.Stderr
	if err := inside.Run(); err != nil {
		return fmt.Errorf("starting the cluster inside %s: %w (logs in %s)", Namespace, err, l.Log(""))
	}
	return Healthy(l)
}

// UpInside starts the control plane, the nodes and the add-ons; it runs inside the namespace, and
// so do the daemons it starts.
func UpInside(l Layout, topology Topology, self string) error {
	steps := []struct {
		name string
		run  func() error
	}{
		{"etcd", func() error { return startEtcd(l) }},
		{"kube-apiserver", func() error { return startAPIServer(l) }},
		{"kube-controller-manager", func() error { return startControllerManager(l) }},
		{"kube-scheduler", func() error { return startScheduler(l) }},
		{"kwok", func() error { return startKwok(l) }},
		{"nodes", func() error {
			client, err := adminClient(l)
			if err != nil {
				return err
			}
			return createNodes(client, topology)
		}},
		{"kube-proxy", func() error { return startKubeProxy(l) }},
		{"runner", func() error { return startRunner(l, self) }},
		{"add-ons (CoreDNS)", func() error { return installAddons(l) }},
		{"managed-Redis stand-in (" + ManagedRedisHost + ")", func() error { return startManagedRedis(l) }},
		{"platform (CRDs, Argo Rollouts, kube-prometheus-stack)", func() error { return installPlatform(l) }},
	}
	for _, step := range steps {
		start := time.Now()
		if err := step.run(); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		fmt.Fprintf(os.Stderr, "cluster: %s ready in %.1f s\n", step.name, time.Since(start).Seconds())
	}
	return nil
}

// Down stops every process of the cluster, removes its network namespace and its state.
func Down(l Layout) error {
	if err := stopDaemons(l, 10*time.Second); err != nil {
		return err
	}
	if err := deleteNetns(); err != nil {
		return err
	}
	return os.RemoveAll(l.Dir)
}

// Healthy is nil when every daemon runs, the API server answers /readyz from the host and every
// node is Ready.
func Healthy(l Layout) error {
	for _, name := range daemons {
		if !running(l, name) {
			return fmt.Errorf("%s is not running", name)
		}
	}
	client, err := hostClient(l)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("kube-apiserver /readyz: %w", err)
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var notReady []string
	for _, node := range nodes.Items {
		ready := false
		for _, condition := range node.Status.Conditions {
			ready = ready || condition.Type == corev1.NodeReady && condition.Status == corev1.ConditionTrue
		}
		if !ready {
			notReady = append(notReady, node.Name)
		}
	}
	if len(nodes.Items) == 0 || len(notReady) > 0 {
		return fmt.Errorf("nodes not Ready: %v of %d", notReady, len(nodes.Items))
	}
	return nil
}

// daemons are the processes a healthy cluster runs.
var daemons = []string{"gateway", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kube-proxy", "runner", managedRedis}

// Status prints every daemon's state and the cluster's health.
func Status(l Layout) error {
	for _, name := range daemons {
		state := "stopped"
		if running(l, name) {
			state = "running"
		}
		fmt.Printf("%-26s %s\n", name, state)
	}
	fmt.Printf("%-26s stand-in for prod's managed Redis: %s:%d (TLS, user %s) at %s\n",
		managedRedis, ManagedRedisHost, ManagedRedisPort, ManagedRedisUser, ManagedRedisAddress)
	err := Healthy(l)
	if err == nil {
		fmt.Println("cluster: healthy")
	}
	return err
}

func hostClient(l Layout) (*kubernetes.Clientset, error) {
	config, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(config)
}

// insecureGet is a GET on a component's local health endpoint (served with a self-signed
// certificate; /healthz is open to anonymous requests by default).
func insecureGet(url string) (int, error) {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // local health probe
	}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// ExportLine is what a developer pastes to use the cluster.
func ExportLine(l Layout) string {
	return "export KUBECONFIG=" + l.Kubeconfig()
}
