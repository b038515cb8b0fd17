package tests

import (
	"testing"
	"time"

	"greeter-gitops/e2e/fixture"
)

// During a canary the real Argo Rollouts controller writes each step's weight into the HTTPRoute
// through its Gateway API traffic router (here the stand-in for the plugin the proxy cannot serve:
// e2e/gatewayapi-standin), and restores all traffic to stable on abort.
func TestCanaryWeightsMoveOnTheHTTPRouteAndReturnOnAbort(t *testing.T) {
	f := fixture.New(t)
	s := f.Given().Overlay("dev").SecretsResolvedFromTheFakeStore().Cleanup().
		When().AppliedServerSide().
		Then().RolloutHealthy(3*time.Minute).WeightsBecome(100, 0, time.Minute)
	s.When().NewRevision("canary-then-abort").
		Then().WeightsBecome(50, 50, 2*time.Minute)
	s.When().Aborted().
		Then().WeightsBecome(100, 0, 2*time.Minute)
}

// On promotion the new revision becomes stable and takes all traffic back through greeter-stable.
func TestCanaryWeightsReturnToStableOnPromotion(t *testing.T) {
	f := fixture.New(t)
	s := f.Given().Overlay("dev").SecretsResolvedFromTheFakeStore().Cleanup().
		When().AppliedServerSide().
		Then().RolloutHealthy(3 * time.Minute)
	s.When().NewRevision("canary-then-promote").
		Then().WeightsBecome(50, 50, 2*time.Minute)
	s.When().PromotedFully().
		Then().RolloutHealthy(3*time.Minute).WeightsBecome(100, 0, time.Minute)
	if current, stable := s.CurrentHash(), s.StableHash(); current != stable {
		t.Fatalf("after promotion the stable hash is %s, the current %s", stable, current)
	}
}
