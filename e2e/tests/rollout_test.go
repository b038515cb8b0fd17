package tests

import (
	"testing"
	"time"

	"greeter-gitops/e2e/fixture"
)

// Every overlay's Rollout becomes Healthy on the real control plane: the real Argo Rollouts
// controller creates the ReplicaSet, the real scheduler places the pods on kwok nodes, the runner
// starts the real greeter (and Redis) and readiness follows the real /readyz.
func TestEveryOverlayRollsOutHealthy(t *testing.T) {
	for _, env := range []string{"dev", "staging", "prod"} {
		t.Run(env, func(t *testing.T) {
			f := fixture.New(t)
			f.Given().Overlay(env).SecretsResolvedFromTheFakeStore().Cleanup().
				When().AppliedServerSide().
				Then().RolloutHealthy(3 * time.Minute)
		})
	}
}

// Prod's hard spread over zones is real: its three pods land in three zones.
func TestProdPodsLandInThreeZones(t *testing.T) {
	f := fixture.New(t)
	s := f.Given().Overlay("prod").SecretsResolvedFromTheFakeStore().Cleanup().
		When().AppliedServerSide().
		Then().RolloutHealthy(3 * time.Minute)
	zones := s.ZonesOf(s.GreeterPods())
	if len(zones) != 3 {
		t.Fatalf("prod's pods are in zones %v, want three distinct zones", zones)
	}
}
