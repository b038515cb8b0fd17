package deploy

import (
	"context"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HTTPRouteResource is the Gateway API HTTPRoute kind.
var HTTPRouteResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// Backend is one backendRef of an HTTPRoute rule.
type Backend struct {
	Service string
	Port    int32
	// Weight as the API server stored it; an unset weight means 1 (Gateway API v1.5.1
	// apis/v1/shared_types.go BackendRef.Weight, +kubebuilder:default=1).
	Weight int64
}

// RouteRules are the backendRefs of each rule of an HTTPRoute.
func RouteRules(route *unstructured.Unstructured) ([][]Backend, error) {
	var spec struct {
		Spec struct {
			Rules []struct {
				BackendRefs []struct {
					Name   string `json:"name"`
					Port   int32  `json:"port"`
					Weight *int64 `json:"weight"`
				} `json:"backendRefs"`
			} `json:"rules"`
		} `json:"spec"`
	}
	raw, err := json.Marshal(route.Object)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	rules := make([][]Backend, len(spec.Spec.Rules))
	for i, rule := range spec.Spec.Rules {
		for _, ref := range rule.BackendRefs {
			weight := int64(1)
			if ref.Weight != nil {
				weight = *ref.Weight
			}
			rules[i] = append(rules[i], Backend{Service: ref.Name, Port: ref.Port, Weight: weight})
		}
	}
	return rules, nil
}

// Weights are the weights of the stable and canary backends of the HTTPRoute greeter.
type Weights struct{ Stable, Canary int64 }

// WeightsOf reads the stable and canary weights from an HTTPRoute's rules.
func WeightsOf(rules [][]Backend) Weights {
	var weights Weights
	for _, rule := range rules {
		for _, backend := range rule {
			switch backend.Service {
			case StableService:
				weights.Stable = backend.Weight
			case CanaryService:
				weights.Canary = backend.Weight
			}
		}
	}
	return weights
}

// RouteWeights are the weights the traffic router last wrote into the environment's HTTPRoute.
func (e Environment) RouteWeights(ctx context.Context) (Weights, error) {
	route, err := e.Dynamic.Resource(HTTPRouteResource).Namespace(e.Namespace()).Get(ctx, RouteName, metav1.GetOptions{})
	if err != nil {
		return Weights{}, err
	}
	rules, err := RouteRules(route)
	return WeightsOf(rules), err
}
