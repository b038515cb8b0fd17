package deploy

import (
	"context"
	"encoding/json"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Argo Rollouts' kinds.
var (
	RolloutResource          = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}
	AnalysisTemplateResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysistemplates"}
	AnalysisRunResource      = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysisruns"}
)

// Rollout is what the tests read of a Rollout, with argo-rollouts v1.9.0's field names
// (pkg/apis/rollouts/v1alpha1/types.go).
type Rollout struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
		Generation      int64  `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Paused bool `json:"paused"`
	} `json:"spec"`
	Status RolloutStatus `json:"status"`
}

// RolloutStatus is the part of RolloutStatus (types.go:929-1010) the tests read.
type RolloutStatus struct {
	// Abort: the update is cancelled, by a human or by the controller on a failed or errored
	// analysis (rollout/analysis.go AddAbort) or a missed progress deadline.
	Abort           bool             `json:"abort"`
	PauseConditions []PauseCondition `json:"pauseConditions"`
	ControllerPause bool             `json:"controllerPause"`
	// CurrentPodHash is the pod-template hash of the newest ReplicaSet, StableRS the hash of the
	// one that last completed a rollout.
	CurrentPodHash     string `json:"currentPodHash"`
	StableRS           string `json:"stableRS"`
	ObservedGeneration string `json:"observedGeneration"`
	Phase              string `json:"phase"`
	Message            string `json:"message"`
}

// PauseCondition is why the controller paused the Rollout.
type PauseCondition struct {
	Reason    string      `json:"reason"`
	StartTime metav1.Time `json:"startTime"`
}

// Pause reasons (types.go:895-906): a canary pause step, and an inconclusive AnalysisRun
// (PauseReasonInconclusiveAnalysis, whose value is "InconclusiveAnalysisRun").
const (
	PauseReasonCanaryPauseStep         = "CanaryPauseStep"
	PauseReasonInconclusiveAnalysisRun = "InconclusiveAnalysisRun"
)

// Rollout phases (types.go RolloutPhase).
const (
	RolloutPhaseHealthy     = "Healthy"
	RolloutPhaseProgressing = "Progressing"
)

// RolloutFrom reads a Rollout object.
func RolloutFrom(object *unstructured.Unstructured) (Rollout, error) {
	var rollout Rollout
	raw, err := json.Marshal(object.Object)
	if err != nil {
		return rollout, err
	}
	err = json.Unmarshal(raw, &rollout)
	return rollout, err
}

// Rollout reads the environment's Rollout.
func (e Environment) Rollout(ctx context.Context) (Rollout, error) {
	object, err := e.Dynamic.Resource(RolloutResource).Namespace(e.Namespace()).Get(ctx, RolloutName, metav1.GetOptions{})
	if err != nil {
		return Rollout{}, err
	}
	return RolloutFrom(object)
}

// Phase is the phase and message a client may rely on, as the controller's own client reads them
// (utils/rollout/rolloututil.go:71-120 GetRolloutPhase): Progressing until the controller has
// observed the current spec and reacted to an unpause, status.phase after.
func (r Rollout) Phase() (string, string) {
	if !r.SpecObserved() {
		return RolloutPhaseProgressing, "waiting for rollout spec update to be observed"
	}
	if r.Status.ControllerPause && len(r.Status.PauseConditions) == 0 {
		return RolloutPhaseProgressing, "waiting for rollout to unpause"
	}
	return r.Status.Phase, r.Status.Message
}

// SpecObserved says whether the controller has acted on the current spec (rolloututil.go
// isGenerationObserved: a status.observedGeneration that is not a number predates v0.10).
func (r Rollout) SpecObserved() bool {
	observed, err := strconv.ParseInt(r.Status.ObservedGeneration, 10, 64)
	return err != nil || observed >= r.Metadata.Generation
}

// PausedFor says whether the controller paused the Rollout for this reason.
func (r Rollout) PausedFor(reason string) bool {
	for _, condition := range r.Status.PauseConditions {
		if condition.Reason == reason {
			return true
		}
	}
	return false
}
