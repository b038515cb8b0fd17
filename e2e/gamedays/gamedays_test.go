// Package gamedays holds the game days (docs/testing.md, "Game days"): releases rolled out on the
// test cluster by the real Argo Rollouts controller under client traffic, judged by its verdict and
// by what the clients saw. scripts/game-days runs the fast ones (this file, part of scripts/test);
// scripts/drill runs every one (with the `drill` build tag), three times. The figures they measure
// are reported in docs/release-safety.md, never asserted here.
package gamedays

import (
	"testing"

	"greeter-gitops/e2e/fixture"
	"greeter-gitops/e2e/internal/gameday"
)

// Scenario 1: a good release under load in dev is promoted, and no client sees an error on the
// way: not while the canary takes its share, not while the old pods stop.
func TestDevGoodReleaseUnderLoadIsPromoted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("dev").Clients(5).PausesSkipped().Cleanup().
		When().Released("good.yaml").
		Then().Verdict(gameday.Promoted).NoClientErrors()
}

// Scenario 2 and the loop closed in git: a bad build that fails every request measures a success
// rate of 0, not "no data": aborted, not paused (audit D2). The controller's notification reaches
// GitHub (a local stand-in) with the payload the release tools parse, and the revert it starts
// pins the environment back and denies the digest.
func TestDevBadBuildIsAbortedAndReverted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("dev").Clients(5).PausesSkipped().GitHubReceivesDispatches().Cleanup().
		When().Released("fail-every-request.yaml").
		Then().Verdict(gameday.Aborted).AbortedByTheController().
		GitHubDispatchedTheAbort().RevertPinsBackAndDenies()
}

// Scenario 3: no samples at all (no clients, the synthetic traffic switched off): never promoted,
// paused for a human as inconclusive.
func TestDevReleaseWithoutSamplesPausesInconclusive(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("dev").Clients(0).PausesSkipped().Cleanup().
		When().Released("good-without-synthetic-traffic.yaml").
		Then().Verdict(gameday.PausedInconclusive)
}
