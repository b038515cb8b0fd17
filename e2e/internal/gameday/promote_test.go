package gameday

import (
	"testing"

	"greeter-gitops/e2e/internal/deploy"
)

// Skipping a pause sends promote's patch, preconditioned; nothing else is ever skipped.
func TestPausePatchSkipsOnlyAPauseStep(t *testing.T) {
	atPause := rollout(paused(deploy.PauseReasonCanaryPauseStep))
	atPause.Metadata.ResourceVersion = "42"
	status, unpause, ok := pausePatch(atPause)
	if want := `{"metadata":{"resourceVersion":"42"},"status":{"pauseConditions":null}}`; !ok || string(status) != want || unpause {
		t.Errorf("at a pause step: %s %v %v, want %s", status, unpause, ok, want)
	}

	atPause.Spec.Paused = true
	if _, unpause, _ := pausePatch(atPause); !unpause {
		t.Error("a Rollout a human paused too: promote also sets spec.paused false")
	}

	for name, r := range map[string]deploy.Rollout{
		"an analysis step or a weight step": rollout(func(*deploy.RolloutStatus) {}),
		"an inconclusive analysis":          rollout(paused(deploy.PauseReasonInconclusiveAnalysisRun)),
		"an inconclusive analysis at a pause step": rollout(paused(deploy.PauseReasonCanaryPauseStep,
			deploy.PauseReasonInconclusiveAnalysisRun)),
	} {
		if status, _, ok := pausePatch(r); ok {
			t.Errorf("%s: patched with %s, want no patch", name, status)
		}
	}
}
