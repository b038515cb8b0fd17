// Package deploy puts an environment's overlay on the test cluster the way Argo CD would, and reads
// back what the controllers made of it: shared by the scenarios (e2e/fixture) and the game-day
// runner (internal/gameday), so both deploy and judge a release identically.
package deploy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a handle on the cluster KUBECONFIG names, for the repository at Repo.
type Cluster struct {
	Repo    string
	Config  *rest.Config
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Kubectl Kubectl
}

// Connect connects to the cluster KUBECONFIG names (scripts/cluster up prints it), with the kubectl
// built from the pinned Kubernetes (GREETER_KUBECTL overrides it).
func Connect(repo string) (*Cluster, error) {
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		return nil, errors.New("KUBECONFIG is not set: start the test cluster with `sudo scripts/cluster up` and export the KUBECONFIG it prints")
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	config.QPS, config.Burst = 50, 100
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	kubectl := os.Getenv("GREETER_KUBECTL")
	if kubectl == "" {
		kubectl = filepath.Join(repo, ".cache", "upstream", "bin", "kubectl")
	}
	if _, err := os.Stat(kubectl); err != nil {
		return nil, fmt.Errorf("kubectl %s: %w (scripts/upstream build kubernetes builds it)", kubectl, err)
	}
	return &Cluster{Repo: repo, Config: config, Client: client, Dynamic: dyn, Kubectl: Kubectl{Path: kubectl, Kubeconfig: kubeconfig}}, nil
}

// FindRepo is the repository root: GREETER_REPO, else the first directory up from the working
// directory that holds e2e/go.mod.
func FindRepo() (string, error) {
	if repo := os.Getenv("GREETER_REPO"); repo != "" {
		return filepath.Abs(repo)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "e2e", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (set GREETER_REPO)")
		}
		dir = parent
	}
}

// Path is a path inside the repository.
func (c *Cluster) Path(parts ...string) string {
	return filepath.Join(append([]string{c.Repo}, parts...)...)
}
