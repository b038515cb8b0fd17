package gameday

import (
	"net/http"
	"testing"
	"time"

	"greeter-gitops/e2e/internal/mix"
)

// An abort at 50 %: the figures and the timeline come from what was recorded, by second after the
// apply.
func TestMeasureAnAbortedCanary(t *testing.T) {
	apply := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	at := func(seconds float64) time.Time { return apply.Add(time.Duration(seconds * float64(time.Second))) }
	visit := mix.Request{Method: http.MethodPost, Path: "/visits", Status: http.StatusOK}
	r := newRecorder(nil)
	r.weight(at(-5), 0)
	r.newRevision("new")
	r.request(visit, at(-1.5), Response{Status: 200}, "old")
	r.weight(at(2.2), 50)
	r.podReady("greeter-new-1", "new", at(1.5))
	r.podReady("greeter-old-1", "old", at(-30))
	r.request(visit, at(2.5), Response{Status: 500}, "new")
	r.request(visit, at(2.7), Response{Status: 200}, "old")
	r.request(visit, at(3.1), Response{Status: 503, Backend: "greeter-canary"}, "")
	r.weight(at(3.9), 0)
	r.request(visit, at(4.2), Response{Status: 500}, "new") // the abort at 4.0, served anyway
	r.request(visit, at(5.0), Response{Status: 200}, "old")

	report := &Report{Verdict: Aborted}
	r.measure(report, moments{apply: apply, verdict: at(4), end: at(5.5)})

	if report.Requests != (Requests{Total: 6, Failed: 3, FailedShare: 0.5}) {
		t.Errorf("requests %+v", report.Requests)
	}
	if report.Canary != (Canary{Served: 2, ServedShare: 2.0 / 6, Failed: 2, FailedShare: 1}) {
		t.Errorf("canary %+v", report.Canary)
	}
	if report.MaxCanaryWeight != 50 {
		t.Errorf("max canary weight %d, want 50", report.MaxCanaryWeight)
	}
	if got := report.SecondsCanaryServedAfterAbort; got == nil || *got < 0.19 || *got > 0.21 {
		t.Errorf("canary served after the abort for %v s, want 0.2", got)
	}
	if got := report.SecondsCanaryReadyToVerdict; got == nil || *got != 2.5 {
		t.Errorf("first canary pod Ready to verdict %v s, want 2.5", got)
	}
	want := []Second{
		{Second: -2, Requests: 1},
		{Second: -1},
		{Second: 0},
		{Second: 1},
		{Second: 2, CanaryWeight: 50, Requests: 2, CanaryRequests: 1, CanaryErrors: 1, ClientErrors: 1},
		{Second: 3, CanaryWeight: 50, Requests: 1, ClientErrors: 1},
		{Second: 4, Requests: 1, CanaryRequests: 1, CanaryErrors: 1, ClientErrors: 1},
		{Second: 5, Requests: 1},
	}
	if len(report.Timeline) != len(want) {
		t.Fatalf("timeline %+v", report.Timeline)
	}
	for i := range want {
		if report.Timeline[i] != want[i] {
			t.Errorf("second %d: %+v, want %+v", want[i].Second, report.Timeline[i], want[i])
		}
	}
}

// After a promotion the new revision is the stable one: what it serves is no longer the canary's.
func TestAfterPromotionTheNewRevisionIsNotTheCanary(t *testing.T) {
	visit := mix.Request{Method: http.MethodGet, Path: "/", Status: http.StatusOK}
	r := newRecorder(nil)
	r.newRevision("new")
	r.request(visit, time.Now(), Response{Status: 200}, "new")
	r.newRevisionStable()
	r.request(visit, time.Now(), Response{Status: 200}, "new")
	report := &Report{Verdict: Promoted}
	r.measure(report, moments{apply: time.Now().Add(-time.Second), verdict: time.Now(), end: time.Now()})
	if report.Canary.Served != 1 || report.SecondsCanaryServedAfterAbort != nil {
		t.Errorf("canary %+v, served after abort %v", report.Canary, report.SecondsCanaryServedAfterAbort)
	}
}

// An expected 4xx is an answer, not an error; an unexpected one is.
func TestOnlyUnexpectedAnswersAreClientErrors(t *testing.T) {
	secret := mix.Request{Method: http.MethodGet, Path: "/secret", Status: http.StatusUnauthorized}
	r := newRecorder(nil)
	now := time.Now()
	r.request(secret, now, Response{Status: 401}, "old")
	r.request(secret, now, Response{Status: 200}, "old")
	r.request(secret, now, Response{Err: http.ErrHandlerTimeout}, "")
	report := &Report{}
	r.measure(report, moments{apply: now, verdict: now, end: now})
	if report.Requests.Failed != 2 {
		t.Errorf("%d failed, want 2 (the 200 and the transport error)", report.Requests.Failed)
	}
}
