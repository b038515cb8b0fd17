// Package runner plays the kubelet of the test cluster for the pods whose images it knows
// (package images): it starts their real processes, each in a sandbox of its own, and reports what
// those processes do as the pod status. kwok simulates every other pod.
package runner

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"greeter-gitops/e2e/internal/images"
)

// Config of the runner daemon.
type Config struct {
	// Kubeconfig to reach the API server from inside the namespace.
	Kubeconfig string
	// Dir holds the pods' sandboxes, volumes and logs.
	Dir string
	// Repo is the repository root (the greeter binary and files, scripts/upstream).
	Repo string
	// Self is this program (the sandbox helper is its `sandbox` subcommand).
	Self string
	// PodNetwork is the range the runner addresses its pods from.
	PodNetwork netip.Prefix
	// DNSServer and Domain go into every ClusterFirst pod's resolv.conf.
	DNSServer string
	Domain    string
	// Catalog is the images the runner runs.
	Catalog []images.Image
	// Bin resolves a binary of tools/upstream.
	Bin func(name string) string
}

// Runner is the daemon.
type Runner struct {
	client    kubernetes.Interface
	dir       string
	repo      string
	self      string
	dnsServer string
	domain    string
	catalog   []images.Image
	bin       func(string) string
	ips       *ipPool
	runs      *regexp.Regexp

	mu      sync.Mutex
	workers map[types.UID]*podWorker
}

// Run watches every pod bound to a node and runs those with an image of the catalog until ctx ends.
func Run(ctx context.Context, config Config) error {
	rest, err := clientcmd.BuildConfigFromFlags("", config.Kubeconfig)
	if err != nil {
		return err
	}
	rest.QPS, rest.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	for _, dir := range []string{"pods", "logs", "volumes"} {
		if err := os.MkdirAll(filepath.Join(config.Dir, dir), 0o755); err != nil {
			return err
		}
	}
	r := &Runner{
		client: client, dir: config.Dir, repo: config.Repo, self: config.Self,
		dnsServer: config.DNSServer, domain: config.Domain, catalog: config.Catalog, bin: config.Bin,
		ips:     newIPPool(config.PodNetwork),
		runs:    regexp.MustCompile(images.Pattern()),
		workers: map[types.UID]*podWorker{},
	}
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	_, err = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.podChanged(obj) },
		UpdateFunc: func(_, obj any) { r.podChanged(obj) },
	})
	if err != nil {
		return err
	}
	_, err = factory.Core().V1().PersistentVolumeClaims().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.provision(ctx, obj.(*corev1.PersistentVolumeClaim)) },
		UpdateFunc: func(_, obj any) { r.provision(ctx, obj.(*corev1.PersistentVolumeClaim)) },
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	<-ctx.Done()
	return nil
}

// runsPod is kwok's stage selector turned around: the runner takes a pod when any of its
// containers has an image of the catalog (cluster/kwok.go excludes exactly those from kwok).
func (r *Runner) runsPod(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if r.runs.MatchString(c.Image) {
			return true
		}
	}
	return false
}

func (r *Runner) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || !r.runsPod(pod) {
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		if pod.DeletionTimestamp == nil {
			return
		}
	}
	r.mu.Lock()
	worker, ok := r.workers[pod.UID]
	if !ok {
		worker = r.newPodWorker(pod)
		r.workers[pod.UID] = worker
		go worker.run()
	}
	r.mu.Unlock()
	worker.update(pod)
}

func (r *Runner) forget(uid types.UID) {
	r.mu.Lock()
	delete(r.workers, uid)
	r.mu.Unlock()
}

// hostPath resolves where an image's file is on this machine.
func (r *Runner) hostPath(source images.Source) (string, error) {
	var path string
	switch {
	case source.Bin != "":
		path = r.bin(source.Bin)
	case source.Repo != "":
		path = filepath.Join(r.repo, source.Repo)
	default:
		path = source.Host
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("image file %s is missing (built by scripts/cluster up): %w", path, err)
	}
	return path, nil
}

// logPath is a container's log file (what `kubectl logs` would show).
func (r *Runner) logPath(pod *corev1.Pod, container string) string {
	return filepath.Join(r.dir, "logs", fmt.Sprintf("%s_%s_%s.log", pod.Namespace, pod.Name, container))
}
