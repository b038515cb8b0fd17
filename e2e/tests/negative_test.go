package tests

import (
	"strings"
	"testing"
	"time"

	"greeter-gitops/e2e/fixture"
)

// The API server's real Pod Security admission refuses, in a namespace the overlays label
// "restricted", a pod that runs as root with privilege escalation.
func TestRestrictedNamespaceRefusesAPrivilegedPod(t *testing.T) {
	f := fixture.New(t)
	s := f.Given().Overlay("dev").SecretsResolvedFromTheFakeStore().Cleanup()
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: privileged
  namespace: ` + s.Namespace() + `
spec:
  containers:
    - name: root
      image: docker.io/library/busybox:1.37
      securityContext:
        privileged: true
        runAsUser: 0
`
	_, stderr, err := f.Run([]byte(pod), "apply", "--server-side", "-f", "-")
	if err == nil || !strings.Contains(stderr, `violates PodSecurity "restricted:latest"`) {
		t.Fatalf("a privileged pod in %s: want a PodSecurity refusal, got err=%v: %s", s.Namespace(), err, stderr)
	}
}

// Server-side field validation is strict: a typo in a field is refused, not pruned silently.
func TestAnUnknownFieldIsRefused(t *testing.T) {
	f := fixture.New(t)
	s := f.Given().Overlay("dev").SecretsResolvedFromTheFakeStore().Cleanup()
	service := `apiVersion: v1
kind: Service
metadata:
  name: typo
  namespace: ` + s.Namespace() + `
spec:
  selector: {app: x}
  portz:
    - port: 80
`
	_, stderr, err := f.Run([]byte(service), "apply", "--server-side", "-f", "-")
	if err == nil || !strings.Contains(stderr, ".spec.portz: field not declared in schema") {
		t.Fatalf("want the unknown field refused, got err=%v: %s", err, stderr)
	}
}

// A Rollout whose analysis template does not exist does not progress: the real controller
// refuses to step a canary it cannot analyse.
func TestARolloutWithoutItsAnalysisTemplateDoesNotProgress(t *testing.T) {
	f := fixture.New(t)
	s := f.Given().Overlay("dev").SecretsResolvedFromTheFakeStore().Cleanup().
		When().AppliedServerSide().
		Then().RolloutHealthy(3 * time.Minute)
	s.MustRun(nil, "-n", s.Namespace(), "delete", "analysistemplate", "greeter-canary-analysis")
	s.MustRun(nil, "-n", s.Namespace(), "patch", "rollout", "greeter", "--type=merge",
		"-p", `{"spec":{"template":{"metadata":{"annotations":{"e2e/revision":"2"}}}}}`)
	s.Eventually("the Rollout reports the missing template", time.Minute, func() error {
		phase, message := s.RolloutPhase()
		if phase == "Degraded" && strings.Contains(message, "greeter-canary-analysis") {
			return nil
		}
		return fixture.Errorf("phase %q: %s", phase, message)
	})
	time.Sleep(20 * time.Second)
	if phase, message := s.RolloutPhase(); phase == "Healthy" {
		t.Fatalf("the Rollout progressed to Healthy without its analysis template: %s", message)
	}
}
