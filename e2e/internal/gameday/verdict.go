package gameday

import "greeter-gitops/e2e/internal/deploy"

// Verdict is what the controller made of the release, read from the Rollout's status as argo-rollouts
// v1.9.0 defines it (pkg/apis/rollouts/v1alpha1/types.go RolloutStatus).
type Verdict string

const (
	// Promoted: the new revision is the stable one (status.stableRS, types.go:996-998) and the
	// Rollout is Healthy (status.phase as GetRolloutPhase reads it, utils/rollout/rolloututil.go:71).
	Promoted Verdict = "promoted"
	// Aborted: status.abort (types.go:931-932), set by the controller when an AnalysisRun failed or
	// errored (rollout/analysis.go:376-382, 435-440: AddAbort) or the progress deadline passed with
	// progressDeadlineAbort, or by a human.
	Aborted Verdict = "aborted"
	// PausedInconclusive: a pause condition InconclusiveAnalysisRun (types.go:899-900,
	// PauseReasonInconclusiveAnalysis), which the controller adds when an AnalysisRun ends
	// Inconclusive (rollout/analysis.go:374-375, 432-433) and only a human clears.
	PausedInconclusive Verdict = "paused-inconclusive"
	// Progressing: none of those when the game day's time ran out.
	Progressing Verdict = "progressing"
)

// verdictOf is the verdict the Rollout shows for the revision with pod-template hash canary, and
// whether it shows one yet. Abort comes first: an aborted Rollout may keep other conditions.
func verdictOf(rollout deploy.Rollout, canary string) (Verdict, bool) {
	phase, _ := rollout.Phase()
	switch {
	case rollout.Status.Abort:
		return Aborted, true
	case rollout.Status.StableRS == canary && rollout.Status.CurrentPodHash == canary && phase == deploy.RolloutPhaseHealthy:
		return Promoted, true
	case rollout.PausedFor(deploy.PauseReasonInconclusiveAnalysisRun):
		return PausedInconclusive, true
	}
	return "", false
}
