package cluster

import (
	"context"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"greeter-gitops/e2e/internal/images"
	"greeter-gitops/e2e/internal/runner"
)

// RunRunner is the pod runner daemon (`cluster runner`), configured for this cluster's layout.
func RunRunner(l Layout, self string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return runner.Run(ctx, runner.Config{
		Kubeconfig: l.componentKubeconfig("runner"),
		Dir:        l.Data("runner"),
		Repo:       l.Repo,
		Self:       self,
		PodNetwork: ProcessPodNetwork,
		DNSServer:  DNSServiceAddress.String(),
		Domain:     ClusterDomain,
		Catalog:    images.Catalog(func(component string) string { return imageTag(l, component) }, l.GreeterCABundle()),
		Bin:        l.Bin,
	})
}

// imageTag is the image tag of a component's build: its IMAGE_TAG when the module version differs
// from the release tag (Prometheus' modules are v0.3xx for v3.x), else the module version.
func imageTag(l Layout, component string) string {
	out, err := exec.Command(filepath.Join(l.Repo, "scripts", "upstream"), "image-tag", component).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
