package deploy

import (
	"context"
	"encoding/json"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnalysisRun is what the tests read of an AnalysisRun: its name, how the Rollout created it, and
// its status with argo-rollouts v1.9.0's field names (pkg/apis/rollouts/v1alpha1/analysis_types.go
// AnalysisRunStatus, MetricResult, Measurement).
type AnalysisRun struct {
	Name string `json:"name"`
	// Type is the rollout-type label (types.go RolloutTypeLabel): Background or Step.
	Type        string         `json:"type"`
	Phase       string         `json:"phase"`
	Message     string         `json:"message,omitempty"`
	StartedAt   *metav1.Time   `json:"startedAt,omitempty"`
	CompletedAt *metav1.Time   `json:"completedAt,omitempty"`
	Metrics     []MetricResult `json:"metricResults"`
}

// MetricResult is one metric's counters and the measurements the controller kept.
type MetricResult struct {
	Name         string        `json:"name"`
	Phase        string        `json:"phase"`
	Message      string        `json:"message,omitempty"`
	Count        int32         `json:"count"`
	Successful   int32         `json:"successful"`
	Failed       int32         `json:"failed"`
	Inconclusive int32         `json:"inconclusive"`
	Error        int32         `json:"error"`
	Measurements []Measurement `json:"measurements"`
}

// Measurement is one query's result as the controller judged it.
type Measurement struct {
	Phase      string       `json:"phase"`
	Value      string       `json:"value,omitempty"`
	Message    string       `json:"message,omitempty"`
	StartedAt  *metav1.Time `json:"startedAt,omitempty"`
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// AnalysisRuns are the AnalysisRuns the Rollout created for a revision (the controller labels them
// with its pod-template hash), oldest first.
func (e Environment) AnalysisRuns(ctx context.Context, podHash string) ([]AnalysisRun, error) {
	list, err := e.Dynamic.Resource(AnalysisRunResource).Namespace(e.Namespace()).List(ctx, metav1.ListOptions{
		LabelSelector: "rollouts-pod-template-hash=" + podHash,
	})
	if err != nil {
		return nil, err
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool {
		return items[i].GetCreationTimestamp().Time.Before(items[j].GetCreationTimestamp().Time)
	})
	runs := make([]AnalysisRun, 0, len(items))
	for _, item := range items {
		run := AnalysisRun{Name: item.GetName(), Type: item.GetLabels()["rollout-type"]}
		status, err := json.Marshal(item.Object["status"])
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(status, &run); err != nil {
			return nil, err
		}
		if run.Metrics == nil {
			run.Metrics = []MetricResult{} // none measured yet: an empty list, not null
		}
		runs = append(runs, run)
	}
	return runs, nil
}
