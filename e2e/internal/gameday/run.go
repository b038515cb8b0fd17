package gameday

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"greeter-gitops/e2e/internal/deploy"
	"greeter-gitops/e2e/internal/mix"
)

// Timing of a game day.
const (
	healthyTimeout = 3 * time.Minute
	servingTimeout = time.Minute
	// revisionTimeout bounds the wait for the controller to create the new revision's ReplicaSet.
	revisionTimeout = time.Minute
	// trafficBeforeApply is how long the clients run before the release is applied.
	trafficBeforeApply = 5 * time.Second
	// quietAfterVerdict: after a verdict that ends the canary (promoted, aborted) the traffic goes
	// on until the canary served nothing for this long, at most tailLimit.
	quietAfterVerdict = 10 * time.Second
	tailLimit         = 2 * time.Minute
	// promoteDelay is how long a pause step lasts before the runner skips it, and the weight of
	// --abort-at-weight before it aborts (heldFor).
	promoteDelay = 2 * time.Second
)

// invalidSpec starts the message of a Rollout the controller refuses (conditions.InvalidSpec).
const invalidSpec = "InvalidSpec:"

// gameDay is one run's state.
type gameDay struct {
	env     deploy.Environment
	opts    Options
	started time.Time
	rec     *recorder
	changed chan struct{} // the Rollout changed
	// pausedSince is when the runner first saw the current pause step (zero: not paused at one).
	pausedSince time.Time
	// reachedSince is when the canary first had --abort-at-weight (zero: not yet).
	reachedSince time.Time
}

// Run runs a game day: the environment deployed fresh and serving, client traffic through the
// emulated gateway, the release applied, the controller's verdict awaited (skipping pause steps
// if asked) and measured. Whatever the verdict, it returns a report; an error is the harness's own
// failure (the cluster, a bad option or change, an interrupt).
func Run(ctx context.Context, cluster *deploy.Cluster, opts Options) (*Report, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	change, err := readChange(opts.Change)
	if err != nil {
		return nil, err
	}
	g := &gameDay{
		env: cluster.Environment(opts.Env), opts: opts, started: time.Now(),
		rec: newRecorder(opts.Log), changed: make(chan struct{}, 1),
	}
	// Both renders first: a change kustomize refuses fails before the cluster is touched.
	base, err := g.env.Render(ctx, deploy.Layer{})
	if err != nil {
		return nil, err
	}
	release, err := g.env.Render(ctx, deploy.Layer{Component: change})
	if err != nil {
		return nil, fmt.Errorf("--change %s: %w", opts.Change, err)
	}
	report, err := g.run(ctx, base, release)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return report, err
}

func (g *gameDay) logf(format string, args ...any) {
	fmt.Fprintf(g.opts.Log, "[%6.1fs] %s\n", time.Since(g.started).Seconds(), fmt.Sprintf(format, args...))
}

func (g *gameDay) run(ctx context.Context, base, release []byte) (*Report, error) {
	stableHash, err := g.given(ctx, base)
	if err != nil {
		return nil, err
	}
	w, err := watch(ctx, g.env, handlers{rollout: g.rolloutChanged, route: g.routeChanged, pod: g.podChanged})
	if err != nil {
		return nil, err
	}
	defer w.stop()
	gateway := newGateway(w)
	if err := g.serving(ctx, gateway); err != nil {
		return nil, err
	}
	g.logf("traffic: %g rps of %s through the emulated gateway", g.opts.RPS, g.opts.Mix)
	traffic := startTraffic(ctx, gateway, g.opts.Mix.Requests(), g.opts.RPS, func(request mix.Request, sent time.Time, response Response) {
		g.rec.request(request, sent, response, w.podHash(response.Pod))
	})
	defer traffic.finish()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(trafficBeforeApply):
	}

	g.logf("when: the release %s, applied server-side", g.opts.Change)
	if err := g.env.ApplyServerSide(ctx, release); err != nil {
		return nil, fmt.Errorf("applying the release: %w", err)
	}
	at := moments{apply: time.Now()}
	canaryHash, err := g.newRevision(ctx, w, stableHash)
	if err != nil {
		return nil, err
	}
	report := &Report{
		Env: g.opts.Env, Change: g.opts.Change, TrafficRPS: g.opts.RPS, Mix: g.opts.Mix, SkipPauses: g.opts.SkipPauses,
		StableHash: stableHash, CanaryHash: canaryHash,
	}
	if err := g.await(ctx, w, report, at.apply); err != nil {
		return nil, err
	}
	at.verdict = time.Now()
	report.VerdictAt = at.verdict
	report.SecondsApplyToVerdict = at.verdict.Sub(at.apply).Seconds()
	report.CanaryWeightAtVerdict = g.rec.canaryWeight()
	g.logf("then: %s", report.Verdict)

	report.Tail = g.tail(ctx, report.Verdict, at.verdict)
	traffic.finish()
	at.end = time.Now()
	if report.AnalysisRuns, err = g.env.AnalysisRuns(ctx, canaryHash); err != nil {
		return nil, err
	}
	g.rec.measure(report, at)
	report.Runner = Runner{
		WallSeconds:  time.Since(g.started).Seconds(),
		CPUSeconds:   cpuSeconds(),
		MaxSendLagMS: float64(traffic.maxLag.Load()) / float64(time.Millisecond),
	}
	return report, nil
}

// given deploys the environment fresh, as Argo CD would, and waits until it is Healthy; it returns
// the stable revision's hash.
func (g *gameDay) given(ctx context.Context, base []byte) (string, error) {
	g.logf("given: %s fresh (namespace %s deleted if present)", g.opts.Env, g.env.Namespace())
	if err := g.env.DeleteNamespace(ctx); err != nil {
		return "", err
	}
	if err := g.env.CreateNamespace(ctx); err != nil {
		return "", err
	}
	if err := g.env.SecretsFromFakeStore(ctx); err != nil {
		return "", err
	}
	if err := g.env.ApplyServerSide(ctx, base); err != nil {
		return "", fmt.Errorf("applying the overlay: %w", err)
	}
	var stable string
	err := deploy.Poll(ctx, "Rollout "+g.env.Namespace()+"/greeter Healthy", healthyTimeout, func() error {
		rollout, err := g.env.Rollout(ctx)
		if err != nil {
			return err
		}
		phase, message := rollout.Phase()
		if strings.HasPrefix(message, invalidSpec) {
			// The controller refuses the Rollout (utils/rollout/rolloututil.go:141-143): no wait cures it.
			return deploy.Final(fmt.Errorf("phase %q: %s", phase, message))
		}
		if phase != deploy.RolloutPhaseHealthy {
			return fmt.Errorf("phase %q: %s", phase, message)
		}
		stable = rollout.Status.StableRS
		return nil
	})
	if err == nil {
		g.logf("given: Rollout Healthy, stable revision %s", stable)
	}
	return stable, err
}

// serving waits until a visit is counted through the gateway (Redis up and reached), which the
// Rollout's health does not imply (docs/architecture.md).
func (g *gameDay) serving(ctx context.Context, gateway *Gateway) error {
	visit := mix.Request{Method: http.MethodPost, Path: "/visits", Status: http.StatusOK}
	return deploy.Poll(ctx, "POST /visits through the emulated gateway", servingTimeout, func() error {
		response := gateway.Send(ctx, visit)
		if response.Err != nil || response.Status != visit.Status {
			return fmt.Errorf("status %d via %q: %v", response.Status, response.Backend, response.Err)
		}
		return nil
	})
}

// newRevision waits for the controller to take the release: the Rollout's new spec observed and a
// new ReplicaSet, whose hash is the canary's.
func (g *gameDay) newRevision(ctx context.Context, w *watches, stable string) (string, error) {
	applied, err := g.env.Rollout(ctx)
	if err != nil {
		return "", err
	}
	var current string
	timedOut, err := g.followRollout(ctx, w, revisionTimeout, func(rollout deploy.Rollout) (bool, error) {
		current = rollout.Status.CurrentPodHash
		return rollout.SpecObserved() && rollout.Metadata.Generation >= applied.Metadata.Generation, nil
	})
	switch {
	case err != nil:
		return "", err
	case timedOut:
		return "", fmt.Errorf("the controller did not take the release within %s", revisionTimeout)
	case current == stable:
		return "", fmt.Errorf("the release leaves the pod template unchanged (revision %s): there is nothing to roll out", stable)
	}
	g.rec.newRevision(current)
	g.logf("when: new revision %s (stable %s)", current, stable)
	return current, nil
}

// followRollout calls check with the Rollout as the watch holds it, now and after every change,
// until check is done; timedOut when timeout passed first.
func (g *gameDay) followRollout(ctx context.Context, w *watches, timeout time.Duration, check func(deploy.Rollout) (bool, error)) (bool, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		rollout, err := w.rolloutNow()
		if err != nil {
			return false, fmt.Errorf("Rollout %s: %w", deploy.RolloutName, err)
		}
		if done, err := check(rollout); done || err != nil {
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return true, nil
		case <-g.changed:
		}
	}
}

// await follows the Rollout to its verdict, skipping pause steps if asked; at the deadline the
// verdict is Progressing.
func (g *gameDay) await(ctx context.Context, w *watches, report *Report, apply time.Time) error {
	var lastState string
	timedOut, err := g.followRollout(ctx, w, time.Until(apply.Add(g.opts.deadline())), func(rollout deploy.Rollout) (bool, error) {
		phase, message := rollout.Phase()
		report.RolloutMessage = strings.TrimSuffix(phase+": "+message, ": ")
		if report.RolloutMessage != lastState {
			lastState = report.RolloutMessage
			g.logf("Rollout %s", lastState)
		}
		if rollout.Status.StableRS == report.CanaryHash {
			g.rec.newRevisionStable()
		}
		if verdict, ok := verdictOf(rollout, report.CanaryHash); ok {
			report.Verdict = verdict
			return true, nil
		}
		if weight := g.rec.canaryWeight(); g.opts.AbortAtWeight > 0 && g.heldFor(&g.reachedSince, weight >= g.opts.AbortAtWeight) && !report.AbortedByRunner {
			if err := abort(ctx, g.env); err != nil {
				return false, err
			}
			report.AbortedByRunner = true
			g.logf("abort at canary weight %d (as kubectl argo rollouts abort)", weight)
			return false, nil
		}
		if g.opts.SkipPauses && g.heldFor(&g.pausedSince, rollout.PausedFor(deploy.PauseReasonCanaryPauseStep)) {
			skipped, err := skipPause(ctx, g.env, rollout)
			if skipped {
				report.PausesSkipped++
				g.logf("pause step skipped (as kubectl argo rollouts promote)")
			}
			return false, err
		}
		return false, nil
	})
	if timedOut {
		report.Verdict = Progressing
	}
	return err
}

// heldFor is true once holds has been true for promoteDelay since *since (waking the follower
// then); a false holds resets it. The runner promotes and aborts like a human, not within
// milliseconds of the controller's own write: argo-rollouts v1.9.0 can lose such a status patch
// (its writeBackToInformer puts the older object back in the informer over the patch's watch
// event, argoproj/argo-rollouts#4073 and #4694, fixed in v1.10 by #4786), and a timed pause then
// runs its full length.
func (g *gameDay) heldFor(since *time.Time, holds bool) bool {
	if !holds {
		*since = time.Time{}
		return false
	}
	if since.IsZero() {
		*since = time.Now()
		time.AfterFunc(promoteDelay, func() { g.rolloutChanged(nil) })
	}
	return time.Since(*since) >= promoteDelay
}

// tail keeps the traffic going after a verdict that ends the canary (promoted, aborted) until the
// canary served nothing for quietAfterVerdict, at most tailLimit. A paused or still progressing
// canary keeps its weight by design: no tail.
func (g *gameDay) tail(ctx context.Context, verdict Verdict, at time.Time) Tail {
	if verdict != Promoted && verdict != Aborted {
		return Tail{}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		quietSince := at
		if last := g.rec.lastCanary(); last.After(at) {
			quietSince = last
		}
		switch {
		case time.Since(quietSince) >= quietAfterVerdict:
			return Tail{Seconds: time.Since(at).Seconds()}
		case time.Since(at) >= tailLimit:
			g.logf("tail: the canary still serves %s after the verdict", tailLimit)
			return Tail{Seconds: time.Since(at).Seconds(), Bounded: true}
		}
		select {
		case <-ctx.Done():
			return Tail{Seconds: time.Since(at).Seconds()}
		case <-tick.C:
		}
	}
}

// rolloutChanged wakes whoever follows the Rollout.
func (g *gameDay) rolloutChanged(*unstructured.Unstructured) {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// routeChanged records the canary weight the controller wrote.
func (g *gameDay) routeChanged(route *unstructured.Unstructured) {
	rules, err := deploy.RouteRules(route)
	if err != nil {
		g.logf("HTTPRoute %s unreadable: %v", deploy.RouteName, err)
		return
	}
	weights := deploy.WeightsOf(rules)
	if weights.Canary != g.rec.canaryWeight() {
		g.logf("HTTPRoute: stable %d, canary %d", weights.Stable, weights.Canary)
	}
	g.rec.weight(time.Now(), weights.Canary)
	g.rolloutChanged(nil) // --abort-at-weight follows the route's weight
}

// podChanged records when each pod is first seen Ready.
func (g *gameDay) podChanged(pod *corev1.Pod) {
	for _, condition := range pod.Status.Conditions {
		if condition.Type == corev1.PodReady && condition.Status == corev1.ConditionTrue {
			g.rec.podReady(pod.Name, pod.Labels["rollouts-pod-template-hash"], time.Now())
		}
	}
}

// cpuSeconds is the CPU time this process used (user and system).
func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}
