package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"greeter-gitops/e2e/fixture"
)

// The documented bootstrap keeps what the Argo CD install set: install the pinned HA manifest, run
// scripts/bootstrap-argocd, read the ConfigMaps back from the real API server.
func TestBootstrapKeepsTheKeysTheInstallSet(t *testing.T) {
	f := fixture.New(t)
	cmd := exec.CommandContext(f.Ctx, f.Path("scripts", "bootstrap-argocd"), "--install")
	// The script's kubectl is the one built from the pinned Kubernetes.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(f.Kubectl.Path)+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/bootstrap-argocd --install: %v\n%s", err, out)
	}
	params, err := f.Client.CoreV1().ConfigMaps("argocd").Get(f.Ctx, "argocd-cmd-params-cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := params.Data["redis.server"]; got != "argocd-redis-ha-haproxy:6379" {
		t.Errorf("argocd-cmd-params-cm redis.server = %q after the bootstrap, want the HA install's argocd-redis-ha-haproxy:6379", got)
	}
	if got := params.Data["applicationsetcontroller.policy"]; got != "create-update" {
		t.Errorf("argocd-cmd-params-cm applicationsetcontroller.policy = %q, want the bootstrap's create-update", got)
	}
	cm, err := f.Client.CoreV1().ConfigMaps("argocd").Get(f.Ctx, "argocd-cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["resource.exclusions"]; !ok {
		t.Error("argocd-cm lost the install's resource.exclusions")
	}
	if _, ok := cm.Data["resource.customizations.health.argoproj.io_Application"]; !ok {
		t.Error("argocd-cm lacks the bootstrap's Application health check")
	}
}

// The control for the test above: applied under one field manager, the bootstrap's partial
// ConfigMap removes the keys the install set (server-side apply's rule) — what the old README did.
func TestOneFieldManagerWouldWipeTheInstallKeys(t *testing.T) {
	f := fixture.New(t)
	ns := "bootstrap-control"
	f.MustRun(nil, "create", "namespace", ns)
	t.Cleanup(func() { _, _, _ = f.Run(nil, "delete", "namespace", ns, "--wait=false") })
	install := `apiVersion: v1
kind: ConfigMap
metadata: {name: params, namespace: ` + ns + `}
data:
  redis.server: argocd-redis-ha-haproxy:6379
`
	bootstrap := `apiVersion: v1
kind: ConfigMap
metadata: {name: params, namespace: ` + ns + `}
data:
  applicationsetcontroller.policy: create-update
`
	f.MustRun([]byte(install), "apply", "--server-side", "-f", "-")
	f.MustRun([]byte(bootstrap), "apply", "--server-side", "-f", "-")
	params, err := f.Client.CoreV1().ConfigMaps(ns).Get(f.Ctx, "params", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := params.Data["redis.server"]; ok {
		t.Fatal("one field manager kept redis.server: the premise of the bootstrap's own field manager is wrong")
	}
}

// Every object under argocd/ is accepted by the real API server (dry run: Argo CD itself is
// simulated here), with the install's namespace and CRDs in place.
func TestEveryArgoCDObjectIsAdmitted(t *testing.T) {
	f := fixture.New(t)
	if _, err := f.Client.CoreV1().Namespaces().Get(f.Ctx, "argocd", metav1.GetOptions{}); err != nil {
		f.MustRun(nil, "create", "namespace", "argocd")
	}
	out, stderr, err := f.Run(nil, "apply", "--server-side", "--dry-run=server", "--field-manager=greeter-bootstrap", "-k", f.Path("argocd"))
	if err != nil {
		t.Fatalf("argocd/ refused: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "application.argoproj.io/root") {
		t.Fatalf("the dry run did not reach the root Application:\n%s", out)
	}
}
