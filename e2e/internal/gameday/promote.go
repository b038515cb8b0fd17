package gameday

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"greeter-gitops/e2e/internal/deploy"
)

// pausePatch is what `kubectl argo rollouts promote ROLLOUT` (no --full) sends a Rollout the
// controller paused at a canary pause step (argo-rollouts v1.9.0
// pkg/kubectl-argo-rollouts/cmd/promote/promote.go:168-201, getPatches' default branch): the pause
// conditions cleared on the status subresource, which the controller reads as the step completed
// (rollout/pause.go:172-178 CompletedCanaryPauseStep), and spec.paused false (unpause) when a human
// paused it too. The branches that move status.currentStepIndex are never taken: they skip an
// inconclusive analysis (a verdict here) or whatever step runs, analysis included. The patch
// carries the resourceVersion it was computed from, so a pause condition the controller added
// since (InconclusiveAnalysisRun) is never cleared unseen, as kubectl's read-then-patch could.
func pausePatch(rollout deploy.Rollout) (status []byte, unpause, ok bool) {
	if !rollout.PausedFor(deploy.PauseReasonCanaryPauseStep) || rollout.PausedFor(deploy.PauseReasonInconclusiveAnalysisRun) {
		return nil, false, false
	}
	return preconditioned(rollout.Metadata.ResourceVersion, "status", map[string]any{"pauseConditions": nil}), rollout.Spec.Paused, true
}

// preconditioned is a merge patch of one top-level field that applies only to resourceVersion.
func preconditioned(resourceVersion, field string, value map[string]any) []byte {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": resourceVersion}, field: value})
	if err != nil {
		panic(err) // maps of strings and nil always marshal
	}
	return patch
}

// abortPatch is what `kubectl argo rollouts abort` sends (argo-rollouts v1.9.0
// pkg/kubectl-argo-rollouts/cmd/abort/abort.go:30, 65), on the status subresource.
const abortPatch = `{"status":{"abort":true}}`

// abort aborts the Rollout as a human would.
func abort(ctx context.Context, env deploy.Environment) error {
	rollouts := env.Dynamic.Resource(deploy.RolloutResource).Namespace(env.Namespace())
	if _, err := rollouts.Patch(ctx, deploy.RolloutName, types.MergePatchType, []byte(abortPatch), metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	return nil
}

// skipPause skips the pause step the Rollout is paused at, in promote's order (status, then spec);
// false when it is not paused at one or changed since it was read.
func skipPause(ctx context.Context, env deploy.Environment, rollout deploy.Rollout) (bool, error) {
	status, unpause, ok := pausePatch(rollout)
	if !ok {
		return false, nil
	}
	rollouts := env.Dynamic.Resource(deploy.RolloutResource).Namespace(env.Namespace())
	patched, err := rollouts.Patch(ctx, deploy.RolloutName, types.MergePatchType, status, metav1.PatchOptions{}, "status")
	if apierrors.IsConflict(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("skip the pause step: %w", err)
	}
	if unpause {
		spec := preconditioned(patched.GetResourceVersion(), "spec", map[string]any{"paused": false})
		if _, err := rollouts.Patch(ctx, deploy.RolloutName, types.MergePatchType, spec, metav1.PatchOptions{}); err != nil && !apierrors.IsConflict(err) {
			return false, fmt.Errorf("unpause: %w", err)
		}
	}
	return true, nil
}
