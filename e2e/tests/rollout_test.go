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

// The zone spread is a hard constraint: while the nodes of one zone take no pods (cordoned, a zone
// outage), the prod pod that would unbalance the zones stays Pending instead of doubling up. (With
// only two zones in the cluster the real scheduler places all three, 2+1: within maxSkew 1.)
func TestProdSpreadKeepsAPodPendingWhileAZoneIsDown(t *testing.T) {
	f := fixture.New(t)
	zone := f.NodesOfZone("zone-c")
	f.Cordon(zone...)
	t.Cleanup(func() { f.Uncordon(zone...) })
	s := f.Given().Overlay("prod").SecretsResolvedFromTheFakeStore().Cleanup().
		When().AppliedServerSide()
	s.Then().Eventually("two prod pods running and one Pending for the spread", 2*time.Minute, func() error {
		pods := s.GreeterPods()
		running, pending := 0, 0
		for _, pod := range pods {
			switch {
			case pod.Spec.NodeName != "":
				running++
			case fixture.Unschedulable(pod, "topology spread"):
				pending++
			}
		}
		if running != 2 || pending != 1 {
			return fixture.Errorf("%d scheduled, %d pending for the spread of %d", running, pending, len(pods))
		}
		return nil
	})
	f.Uncordon(zone...)
	s.Then().RolloutHealthy(3 * time.Minute)
	if zones := s.ZonesOf(s.GreeterPods()); len(zones) != 3 {
		t.Fatalf("after the zone returned, prod's pods are in %v", zones)
	}
}
