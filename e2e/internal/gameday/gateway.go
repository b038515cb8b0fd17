package gameday

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"greeter-gitops/e2e/internal/cluster"
	"greeter-gitops/e2e/internal/deploy"
	"greeter-gitops/e2e/internal/mix"
)

// requestTimeout bounds one request, as a client (and nginx's proxy_read_timeout) would.
const requestTimeout = 10 * time.Second

// Gateway is the emulated gateway: the one simulated piece of a game day, standing in for the
// environment's data plane (NGINX Gateway Fabric's nginx, which does not run in the test cluster).
// For each request it reads HTTPRoute greeter as the controller last wrote it, picks a backendRef
// by weight (smooth weighted round robin: deterministic, where NGF's split_clients on $request_id
// is random with the same proportions), and sends the request to a ready endpoint of that Service
// (round robin over the EndpointSlices' ready addresses, sorted as NGF sorts them), inside the
// cluster's network namespace. A Service with no ready endpoint answers 503: NGF keeps only ready
// endpoints and points an empty upstream at its 503 server
// (observability/rules/greeter-recording-rules.yaml; Gateway API v1.5.1 HTTPRouteRule.BackendRefs:
// "a Service that has no ready endpoints ... SHOULD return a 503"). Route filters are not applied:
// the route's only one removes a header this traffic never sends.
type Gateway struct {
	watches *watches
	client  *http.Client

	mu      sync.Mutex
	version string // the route's resourceVersion the picker was built for
	rule    []deploy.Backend
	picker  *smoothWeighted
	cursor  map[string]int // next endpoint per Service
}

func newGateway(w *watches) *Gateway {
	transport := &http.Transport{
		DialContext: cluster.DialInNamespace,
		// A connection per request: a kept-alive connection to a pod that is shutting down could
		// fail a request the real gateway would have retried on a fresh one.
		DisableKeepAlives: true,
	}
	return &Gateway{
		watches: w,
		client:  &http.Client{Transport: transport, Timeout: requestTimeout},
		cursor:  map[string]int{},
	}
}

// Response is what became of one request.
type Response struct {
	// Backend is the Service the route picked ("" when no backend had weight).
	Backend string
	// Pod served the request ("" when no pod did: the gateway answered itself, or the connection failed).
	Pod    string
	Status int
	Err    error
}

// endpoint is a ready address of a Service.
type endpoint struct {
	address string
	port    int32
	pod     string
}

// Send sends one request the way the gateway would route it at this moment.
func (g *Gateway) Send(ctx context.Context, request mix.Request) Response {
	backend, endpoint, err := g.route()
	if err != nil {
		return Response{Backend: backend.Service, Err: err}
	}
	if backend.Service == "" {
		// No backendRef may take traffic: the rule has no valid destination (Gateway API: 500).
		return Response{Status: http.StatusInternalServerError}
	}
	if endpoint == nil {
		return Response{Backend: backend.Service, Status: http.StatusServiceUnavailable}
	}
	url := "http://" + net.JoinHostPort(endpoint.address, strconv.Itoa(int(endpoint.port))) + request.Path
	req, err := http.NewRequestWithContext(ctx, request.Method, url, nil)
	if err != nil {
		return Response{Backend: backend.Service, Err: err}
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return Response{Backend: backend.Service, Pod: endpoint.pod, Err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return Response{Backend: backend.Service, Pod: endpoint.pod, Status: resp.StatusCode, Err: err}
}

// route picks the backend and endpoint for the next request; a nil endpoint is a Service without
// a ready one.
func (g *Gateway) route() (deploy.Backend, *endpoint, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.readRoute(); err != nil {
		return deploy.Backend{}, nil, err
	}
	pick := g.picker.next()
	if pick < 0 {
		return deploy.Backend{}, nil, nil
	}
	backend := g.rule[pick]
	endpoints, err := g.readyEndpoints(backend)
	if err != nil || len(endpoints) == 0 {
		return backend, nil, err
	}
	next := g.cursor[backend.Service] % len(endpoints)
	g.cursor[backend.Service] = next + 1
	return backend, &endpoints[next], nil
}

// readRoute rebuilds the picker when the route changed, as a reload of nginx's configuration
// starts its balancer afresh.
func (g *Gateway) readRoute() error {
	route, err := g.watches.routeNow()
	if err != nil {
		return fmt.Errorf("HTTPRoute %s: %w", deploy.RouteName, err)
	}
	if route.GetResourceVersion() == g.version {
		return nil
	}
	rules, err := deploy.RouteRules(route)
	if err != nil {
		return err
	}
	if len(rules) != 1 {
		return fmt.Errorf("HTTPRoute %s has %d rules: the emulated gateway routes a route of one rule without matches", deploy.RouteName, len(rules))
	}
	weights := make([]int64, len(rules[0]))
	for i, backend := range rules[0] {
		weights[i] = backend.Weight
	}
	g.version, g.rule, g.picker = route.GetResourceVersion(), rules[0], newSmoothWeighted(weights)
	return nil
}

// readyEndpoints are the ready addresses of a backend's Service for the backendRef's port, as NGF
// resolves them (internal/controller/state/resolver/resolver.go: the Service port's name picks the
// EndpointSlice port; an endpoint whose ready condition is unset counts as ready; sorted by
// address).
func (g *Gateway) readyEndpoints(backend deploy.Backend) ([]endpoint, error) {
	service, err := g.watches.services.Services(g.watches.namespace).Get(backend.Service)
	if err != nil {
		return nil, fmt.Errorf("Service %s: %w", backend.Service, err)
	}
	portName, found := "", false
	for _, port := range service.Spec.Ports {
		if port.Port == backend.Port {
			portName, found = port.Name, true
		}
	}
	if !found {
		return nil, fmt.Errorf("Service %s has no port %d (HTTPRoute %s)", backend.Service, backend.Port, deploy.RouteName)
	}
	selector := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: backend.Service})
	endpointSlices, err := g.watches.slices.EndpointSlices(g.watches.namespace).List(selector)
	if err != nil {
		return nil, err
	}
	var endpoints []endpoint
	for _, slice := range endpointSlices {
		if slice.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var port *int32
		for _, p := range slice.Ports {
			if p.Name != nil && *p.Name == portName {
				port = p.Port
			}
		}
		if port == nil {
			continue
		}
		for _, e := range slice.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			pod := ""
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				pod = e.TargetRef.Name
			}
			for _, address := range e.Addresses {
				endpoints = append(endpoints, endpoint{address: address, port: *port, pod: pod})
			}
		}
	}
	slices.SortFunc(endpoints, func(a, b endpoint) int { return strings.Compare(a.address, b.address) })
	return slices.CompactFunc(endpoints, func(a, b endpoint) bool { return a.address == b.address }), nil
}
