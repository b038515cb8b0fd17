// Command gatewayapi-standin stands in, in the test cluster only, for the Argo Rollouts Gateway API
// traffic-router plugin (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi) that the platform
// pins: its Go module is not served by the Go module proxy this project builds from, so the real
// binary cannot be built here (docs/testing.md). It is a model of that plugin's weight handling
// (pkg/plugin/httproute.go setHTTPRouteWeight at v0.15.0): every backendRef of the HTTPRoute naming
// the canary Service gets the desired weight, every one naming the stable Service the rest; weights
// are not verified (VerifyWeight answers "not supported", as upstream does). Header and mirror
// routes, which the greeter does not use, are refused. On GitHub's e2e workflow (kind) the
// controller downloads the real plugin instead.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	rolloutsPlugin "github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	goPlugin "github.com/hashicorp/go-plugin"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// pluginName is the name the Rollout's trafficRouting.plugins uses.
const pluginName = "argoproj-labs/gatewayAPI"

var httpRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

type plugin struct{ client dynamic.Interface }

// config is the plugin's configuration in the Rollout (upstream GatewayAPITrafficRouting, the
// fields the greeter uses).
type config struct {
	HTTPRoute string `json:"httpRoute"`
	Namespace string `json:"namespace"`
}

func (p *plugin) InitPlugin() types.RpcError {
	rc, err := rest.InClusterConfig()
	if err != nil {
		return types.RpcError{ErrorString: err.Error()}
	}
	p.client, err = dynamic.NewForConfig(rc)
	if err != nil {
		return types.RpcError{ErrorString: err.Error()}
	}
	return types.RpcError{}
}

func (p *plugin) SetWeight(rollout *v1alpha1.Rollout, desired int32, _ []v1alpha1.WeightDestination) types.RpcError {
	if err := p.setWeight(rollout, desired); err != nil {
		return types.RpcError{ErrorString: err.Error()}
	}
	return types.RpcError{}
}

func (p *plugin) setWeight(rollout *v1alpha1.Rollout, desired int32) error {
	var cfg config
	if err := json.Unmarshal(rollout.Spec.Strategy.Canary.TrafficRouting.Plugins[pluginName], &cfg); err != nil {
		return fmt.Errorf("plugin configuration: %w", err)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = rollout.Namespace
	}
	ctx := context.Background()
	routes := p.client.Resource(httpRoutes).Namespace(cfg.Namespace)
	route, err := routes.Get(ctx, cfg.HTTPRoute, metav1.GetOptions{})
	if err != nil {
		return err
	}
	canary, stable := rollout.Spec.Strategy.Canary.CanaryService, rollout.Spec.Strategy.Canary.StableService
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	found := map[string]bool{}
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		refs, _ := rule["backendRefs"].([]any)
		for _, ref := range refs {
			backend, _ := ref.(map[string]any)
			switch backend["name"] {
			case canary:
				backend["weight"] = int64(desired)
				found[canary] = true
			case stable:
				backend["weight"] = int64(100 - desired)
				found[stable] = true
			}
		}
	}
	if !found[canary] || !found[stable] {
		return fmt.Errorf("HTTPRoute %s/%s has no backendRef for both %s and %s", cfg.Namespace, cfg.HTTPRoute, canary, stable)
	}
	if err := unstructured.SetNestedSlice(route.Object, rules, "spec", "rules"); err != nil {
		return err
	}
	_, err = routes.Update(ctx, route, metav1.UpdateOptions{})
	return err
}

func (p *plugin) UpdateHash(*v1alpha1.Rollout, string, string, []v1alpha1.WeightDestination) types.RpcError {
	return types.RpcError{}
}

func (p *plugin) SetHeaderRoute(_ *v1alpha1.Rollout, route *v1alpha1.SetHeaderRoute) types.RpcError {
	if route != nil && len(route.Match) > 0 {
		return types.RpcError{ErrorString: "header routes are not modelled by the test cluster's stand-in"}
	}
	return types.RpcError{}
}

func (p *plugin) SetMirrorRoute(_ *v1alpha1.Rollout, route *v1alpha1.SetMirrorRoute) types.RpcError {
	if route != nil && len(route.Match) > 0 {
		return types.RpcError{ErrorString: "mirror routes are not modelled by the test cluster's stand-in"}
	}
	return types.RpcError{}
}

func (p *plugin) VerifyWeight(*v1alpha1.Rollout, int32, []v1alpha1.WeightDestination) (types.RpcVerified, types.RpcError) {
	return types.NotImplemented, types.RpcError{}
}

func (p *plugin) RemoveManagedRoutes(*v1alpha1.Rollout) types.RpcError { return types.RpcError{} }

func (p *plugin) Type() string { return "GatewayAPI" }

func main() {
	goPlugin.Serve(&goPlugin.ServeConfig{
		// The handshake every Argo Rollouts traffic-router plugin serves (test/cmd/trafficrouter-plugin-sample).
		HandshakeConfig: goPlugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
			MagicCookieValue: "trafficrouter",
		},
		Plugins: map[string]goPlugin.Plugin{
			"RpcTrafficRouterPlugin": &rolloutsPlugin.RpcTrafficRouterPlugin{Impl: &plugin{}},
		},
	})
}
