package gameday

import (
	"fmt"
	"math"
	"strings"
	"time"

	"greeter-gitops/e2e/internal/deploy"
)

// Report is what a game day measured; scripts/game-day --json writes it (docs/testing.md lists
// every field). Times are seconds; the timeline's second 0 starts at the apply.
type Report struct {
	Env        string  `json:"env"`
	Change     string  `json:"change"`
	TrafficRPS float64 `json:"traffic_rps"`
	Mix        Mix     `json:"mix"`
	SkipPauses bool    `json:"skip_pauses"`
	StableHash string  `json:"stable_hash"`
	CanaryHash string  `json:"canary_hash"`

	Verdict Verdict `json:"verdict"`
	// VerdictAt is when the runner saw the verdict.
	VerdictAt time.Time `json:"verdict_at"`
	// RolloutMessage is the Rollout's phase and message at the verdict.
	RolloutMessage              string   `json:"rollout_message"`
	SecondsApplyToVerdict       float64  `json:"seconds_apply_to_verdict"`
	SecondsCanaryReadyToVerdict *float64 `json:"seconds_canary_ready_to_verdict"`
	MaxCanaryWeight             int64    `json:"max_canary_weight"`
	CanaryWeightAtVerdict       int64    `json:"canary_weight_at_verdict"`
	PausesSkipped               int      `json:"pauses_skipped"`
	// AbortedByRunner: the runner aborted the Rollout (--abort-at-weight), not the controller.
	AbortedByRunner bool `json:"aborted_by_runner"`

	Requests Requests `json:"requests"`
	Canary   Canary   `json:"canary"`
	// SecondsCanaryServedAfterAbort is how long after the abort the canary still answered a
	// request (0: not once; null: not aborted).
	SecondsCanaryServedAfterAbort *float64 `json:"seconds_canary_served_after_abort"`
	Tail                          Tail     `json:"tail"`

	AnalysisRuns []deploy.AnalysisRun `json:"analysis_runs"`
	Timeline     []Second             `json:"timeline"`
	Runner       Runner               `json:"runner"`
}

// Requests counts every client request of the run.
type Requests struct {
	Total       int     `json:"total"`
	Failed      int     `json:"failed"`
	FailedShare float64 `json:"failed_share"`
}

// Canary counts the client requests the canary served: ServedShare of all requests, FailedShare
// of those it served.
type Canary struct {
	Served      int     `json:"served"`
	ServedShare float64 `json:"served_share"`
	Failed      int     `json:"failed"`
	FailedShare float64 `json:"failed_share"`
}

// Tail is the traffic after the verdict: until the canary served nothing for quietAfterVerdict,
// Bounded when tailLimit ended it first.
type Tail struct {
	Seconds float64 `json:"seconds"`
	Bounded bool    `json:"bounded"`
}

// Second is one second of the run, for plotting.
type Second struct {
	Second         int   `json:"second"`
	CanaryWeight   int64 `json:"canary_weight"`
	Requests       int   `json:"requests"`
	CanaryRequests int   `json:"canary_requests"`
	CanaryErrors   int   `json:"canary_errors"`
	ClientErrors   int   `json:"client_errors"`
}

// Runner is the harness's own cost.
type Runner struct {
	WallSeconds float64 `json:"wall_seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	// MaxSendLagMS is the longest a request left after its scheduled time.
	MaxSendLagMS float64 `json:"max_send_lag_ms"`
}

// moments are the times a report is measured from.
type moments struct {
	apply, verdict, end time.Time
}

// measure fills the report's figures from what the recorder saw.
func (r *recorder) measure(report *Report, at moments) {
	r.mu.Lock()
	defer r.mu.Unlock()
	second := func(t time.Time) int { return int(math.Floor(t.Sub(at.apply).Seconds())) }
	first, last := second(at.apply), second(at.end)
	if len(r.samples) > 0 {
		first = min(first, second(r.samples[0].sent))
	}
	timeline := make([]Second, last-first+1)
	for i := range timeline {
		timeline[i].Second = first + i
	}
	var lastCanary time.Time
	for _, s := range r.samples {
		bucket := &timeline[second(s.sent)-first]
		bucket.Requests++
		report.Requests.Total++
		if s.failed {
			bucket.ClientErrors++
			report.Requests.Failed++
		}
		if s.canary {
			bucket.CanaryRequests++
			report.Canary.Served++
			lastCanary = s.sent
			if s.failed {
				bucket.CanaryErrors++
				report.Canary.Failed++
			}
		}
	}
	report.Requests.FailedShare = share(report.Requests.Failed, report.Requests.Total)
	report.Canary.ServedShare = share(report.Canary.Served, report.Requests.Total)
	report.Canary.FailedShare = share(report.Canary.Failed, report.Canary.Served)
	// A second's weight is the highest the route carried during it; each weight holds until the
	// next change.
	for i, change := range r.weights {
		until := at.end
		if i+1 < len(r.weights) {
			until = r.weights[i+1].at
		}
		if change.at.After(at.end) {
			break
		}
		if !until.Before(at.apply) {
			report.MaxCanaryWeight = max(report.MaxCanaryWeight, change.canary)
		}
		for s := max(second(change.at), first); s <= min(second(until), last); s++ {
			timeline[s-first].CanaryWeight = max(timeline[s-first].CanaryWeight, change.canary)
		}
	}
	report.Timeline = timeline
	if report.Verdict == Aborted {
		served := max(0, lastCanary.Sub(at.verdict).Seconds())
		report.SecondsCanaryServedAfterAbort = &served
	}
	var firstReady time.Time
	for _, pod := range r.ready {
		if pod.hash == r.canaryHash && (firstReady.IsZero() || pod.at.Before(firstReady)) {
			firstReady = pod.at
		}
	}
	if !firstReady.IsZero() {
		seconds := at.verdict.Sub(firstReady).Seconds()
		report.SecondsCanaryReadyToVerdict = &seconds
	}
}

func share(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Summary is the report for a human, in a few lines.
func (r *Report) Summary() string {
	var b strings.Builder
	traffic := fmt.Sprintf("%g rps (%s)", r.TrafficRPS, r.Mix)
	pauses := ""
	if r.SkipPauses {
		pauses = fmt.Sprintf(", pause steps skipped: %d", r.PausesSkipped)
	}
	fmt.Fprintf(&b, "game day %s: %s at %s%s\n", r.Env, r.Change, traffic, pauses)
	fmt.Fprintf(&b, "verdict: %s %.1f s after the apply", r.Verdict, r.SecondsApplyToVerdict)
	if r.SecondsCanaryReadyToVerdict != nil {
		fmt.Fprintf(&b, " (%.1f s after the first canary pod was Ready)", *r.SecondsCanaryReadyToVerdict)
	}
	if r.AbortedByRunner {
		fmt.Fprint(&b, " (aborted by the runner, --abort-at-weight)")
	}
	fmt.Fprintf(&b, "; Rollout %s\n", r.RolloutMessage)
	fmt.Fprintf(&b, "canary %s: weight up to %d, %d at the verdict; served %d of %d client requests (%.1f %%), %d of them failed (%.1f %%)\n",
		r.CanaryHash, r.MaxCanaryWeight, r.CanaryWeightAtVerdict, r.Canary.Served, r.Requests.Total,
		100*r.Canary.ServedShare, r.Canary.Failed, 100*r.Canary.FailedShare)
	if r.SecondsCanaryServedAfterAbort != nil {
		fmt.Fprintf(&b, "after the abort the canary still served for %.1f s\n", *r.SecondsCanaryServedAfterAbort)
	}
	fmt.Fprintf(&b, "clients: %d of %d requests failed (%.2f %%)\n", r.Requests.Failed, r.Requests.Total, 100*r.Requests.FailedShare)
	for _, run := range r.AnalysisRuns {
		fmt.Fprintf(&b, "analysis %s (%s): %s", run.Name, run.Type, run.Phase)
		for _, metric := range run.Metrics {
			var values []string
			for _, m := range metric.Measurements {
				values = append(values, strings.TrimSpace(m.Phase+" "+m.Value))
			}
			fmt.Fprintf(&b, "; %s %s [%s]", metric.Name, metric.Phase, strings.Join(values, ", "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "runner: %.0f s wall, %.1f s CPU, requests left at most %.1f ms late\n",
		r.Runner.WallSeconds, r.Runner.CPUSeconds, r.Runner.MaxSendLagMS)
	return b.String()
}
