package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Kubectl runs the kubectl built from the pinned Kubernetes against one cluster.
type Kubectl struct {
	Path       string
	Kubeconfig string
}

// Run runs kubectl and returns stdout, stderr and the error.
func (k Kubectl) Run(ctx context.Context, stdin []byte, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, k.Path, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.Kubeconfig)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// Output runs kubectl and returns stdout; the error carries kubectl's stderr.
func (k Kubectl) Output(ctx context.Context, stdin []byte, args ...string) (string, error) {
	stdout, stderr, err := k.Run(ctx, stdin, args...)
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr))
	}
	return stdout, nil
}
