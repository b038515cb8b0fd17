// Package gamedays holds the game days (docs/testing.md, "Game days"): releases rolled out on the
// test cluster by the real Argo Rollouts controller under client traffic, judged by its verdict and
// by what the clients saw. scripts/game-days runs them.
package gamedays

import (
	"testing"

	"greeter-gitops/e2e/fixture"
	"greeter-gitops/e2e/internal/gameday"
)

// A good release under load in dev is promoted, and no client sees an error on the way: not while
// the canary takes its share, not while the old pods stop.
func TestDevGoodReleaseUnderLoadIsPromoted(t *testing.T) {
	fixture.New(t).GameDay().
		Given().Overlay("dev").Clients(5).PausesSkipped().Cleanup().
		When().Released("good.yaml").
		Then().Verdict(gameday.Promoted).NoClientErrors()
}
