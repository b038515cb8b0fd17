//go:build drill

package gamedays

import (
	"testing"

	"greeter-gitops/e2e/fixture"
	"greeter-gitops/e2e/internal/gameday"
)

// Scenario 2 in dev: a release whose new config breaks Redis (every visit 503) is aborted.
func TestDevReleaseBreakingRedisIsAborted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("dev").Clients(5).PausesSkipped().Cleanup().
		When().Released("redis-broken.yaml").
		Then().Verdict(gameday.Aborted).AbortedByTheController()
}

// Scenario 2 in dev: a release that is only slow (its Redis stalls, every request succeeds) is
// aborted by the latency gate.
func TestDevSlowReleaseIsAbortedByTheLatencyGate(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("dev").Clients(5).PausesSkipped().Cleanup().
		When().Released("slow.yaml").
		Then().Verdict(gameday.Aborted).AbortedByTheController().FailedOn("latency-p95")
}

// Scenario 3: traffic only to paths no route serves (scanners), no synthetic traffic: those
// requests do not count, so the canary has no samples and pauses as inconclusive.
func TestDevOnlyUnknownPathsPausesInconclusive(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("dev").Clients(5).UnknownPathsOnly().PausesSkipped().Cleanup().
		When().Released("good-without-synthetic-traffic.yaml").
		Then().Verdict(gameday.PausedInconclusive)
}

// Scenario 4: staging without clients: the synthetic traffic measures the canary, a good release
// is promoted.
func TestStagingGoodReleaseWithoutClientsIsPromoted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("staging").Clients(0).PausesSkipped().Cleanup().
		When().Released("good.yaml").
		Then().Verdict(gameday.Promoted)
}

// Scenario 4: staging at 1 client request per second: a release failing every request is
// aborted on the synthetic traffic's evidence.
func TestStagingBadReleaseWithOneClientPerSecondIsAborted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("staging").Clients(1).PausesSkipped().Cleanup().
		When().Released("fail-every-request.yaml").
		Then().Verdict(gameday.Aborted).AbortedByTheController()
}

// Scenario 4: staging at 1 client request per second: a good release is promoted, no client error.
func TestStagingGoodReleaseWithOneClientPerSecondIsPromoted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("staging").Clients(1).PausesSkipped().Cleanup().
		When().Released("good.yaml").
		Then().Verdict(gameday.Promoted).NoClientErrors()
}

// Scenario 1 in prod: promoted through every step, no client error.
func TestProdGoodReleaseUnderLoadIsPromoted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("prod").Clients(5).PausesSkipped().Cleanup().
		When().Released("good.yaml").
		Then().Verdict(gameday.Promoted).NoClientErrors()
}

// Scenario 2 in prod: a bad build is aborted by the gate at the first weight (1 %).
func TestProdBadBuildIsAborted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("prod").Clients(5).PausesSkipped().Cleanup().
		When().Released("fail-every-request.yaml").
		Then().Verdict(gameday.Aborted).AbortedByTheController()
}

// Scenario 2 in prod: a release whose new config breaks Redis is aborted.
func TestProdReleaseBreakingRedisIsAborted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("prod").Clients(5).PausesSkipped().Cleanup().
		When().Released("redis-broken.yaml").
		Then().Verdict(gameday.Aborted).AbortedByTheController()
}

// Scenario 2 in prod: a release that is only slow is aborted by the latency gate.
func TestProdSlowReleaseIsAbortedByTheLatencyGate(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("prod").Clients(5).PausesSkipped().Cleanup().
		When().Released("slow.yaml").
		Then().Verdict(gameday.Aborted).AbortedByTheController().FailedOn("latency-p95")
}

// Scenario 5: a release aborted at prod's highest step (80 %), as a human would on a late
// finding: the report measures how long the canary keeps serving after the abort
// (docs/release-safety.md; with dynamicStableScale it kept 50 % for minutes: ADR 0002).
func TestProdAbortAtTheHighestStep(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("prod").Clients(5).PausesSkipped().Cleanup().
		When().AbortedAtWeight(80).Released("good.yaml").
		Then().Verdict(gameday.Aborted).NoClientErrors()
}
