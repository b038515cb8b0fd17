package gameday

import (
	"testing"

	"greeter-gitops/e2e/internal/deploy"
)

// rollout is a Rollout whose controller observed its spec, with status fields set by edit.
func rollout(edit func(*deploy.RolloutStatus)) deploy.Rollout {
	var r deploy.Rollout
	r.Metadata.Generation = 3
	r.Status.ObservedGeneration = "3"
	r.Status.CurrentPodHash, r.Status.StableRS = "new", "old"
	r.Status.Phase = "Progressing"
	edit(&r.Status)
	return r
}

func paused(reasons ...string) func(*deploy.RolloutStatus) {
	return func(s *deploy.RolloutStatus) {
		s.Phase, s.ControllerPause = "Paused", true
		for _, reason := range reasons {
			s.PauseConditions = append(s.PauseConditions, deploy.PauseCondition{Reason: reason})
		}
	}
}

func TestVerdictOfTheRolloutStatus(t *testing.T) {
	for _, c := range []struct {
		name    string
		rollout deploy.Rollout
		want    Verdict
	}{
		{"the canary steps", rollout(func(*deploy.RolloutStatus) {}), ""},
		{"paused at a pause step", rollout(paused(deploy.PauseReasonCanaryPauseStep)), ""},
		{"new revision stable and Healthy", rollout(func(s *deploy.RolloutStatus) { s.StableRS, s.Phase = "new", "Healthy" }), Promoted},
		{"new revision stable, not yet Healthy", rollout(func(s *deploy.RolloutStatus) { s.StableRS = "new" }), ""},
		{"Healthy but the spec not yet observed", func() deploy.Rollout {
			r := rollout(func(s *deploy.RolloutStatus) { s.StableRS, s.Phase = "new", "Healthy" })
			r.Metadata.Generation = 4
			return r
		}(), ""},
		{"old revision Healthy (rolled back)", rollout(func(s *deploy.RolloutStatus) { s.CurrentPodHash, s.Phase = "old", "Healthy" }), ""},
		{"aborted", rollout(func(s *deploy.RolloutStatus) { s.Abort, s.Phase = true, "Degraded" }), Aborted},
		{"aborted while paused", rollout(func(s *deploy.RolloutStatus) {
			paused(deploy.PauseReasonInconclusiveAnalysisRun)(s)
			s.Abort = true
		}), Aborted},
		{"inconclusive analysis", rollout(paused(deploy.PauseReasonInconclusiveAnalysisRun)), PausedInconclusive},
		{"inconclusive at a pause step", rollout(paused(deploy.PauseReasonCanaryPauseStep, deploy.PauseReasonInconclusiveAnalysisRun)), PausedInconclusive},
	} {
		got, ok := verdictOf(c.rollout, "new")
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s: verdict %q (%v), want %q", c.name, got, ok, c.want)
		}
	}
}
