package gameday

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"greeter-gitops/e2e/internal/deploy"
)

// watches are the watch caches of what a game day reads at every moment: the Rollout, the
// HTTPRoute, the Services with their EndpointSlices, and the greeter's pods.
type watches struct {
	rollout   cache.GenericLister
	route     cache.GenericLister
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	pods      corelisters.PodLister
	namespace string
	// stop ends the watches and waits until no handler runs any more.
	stop func()
}

// handlers are called on every change the watches see.
type handlers struct {
	rollout func(*unstructured.Unstructured)
	route   func(*unstructured.Unstructured)
	pod     func(*corev1.Pod)
}

// watch starts the watches of one namespace until stop (or ctx ends), and returns once their
// caches hold the current state.
func watch(ctx context.Context, env deploy.Environment, on handlers) (*watches, error) {
	ctx, cancel := context.WithCancel(ctx)
	var shutdowns []func()
	stop := func() {
		cancel()
		for _, shutdown := range shutdowns {
			shutdown()
		}
	}
	w, err := startWatches(ctx, env, on, &shutdowns)
	if err != nil {
		stop()
		return nil, err
	}
	w.stop = stop
	return w, nil
}

func startWatches(ctx context.Context, env deploy.Environment, on handlers, shutdowns *[]func()) (*watches, error) {
	ns := env.Namespace()
	typed := informers.NewSharedInformerFactoryWithOptions(env.Client, 0, informers.WithNamespace(ns))
	*shutdowns = append(*shutdowns, typed.Shutdown)
	w := &watches{
		services:  typed.Core().V1().Services().Lister(),
		slices:    typed.Discovery().V1().EndpointSlices().Lister(),
		pods:      typed.Core().V1().Pods().Lister(),
		namespace: ns,
	}
	if _, err := typed.Core().V1().Pods().Informer().AddEventHandler(handle(on.pod)); err != nil {
		return nil, err
	}
	named := func(resource schema.GroupVersionResource, name string, handler func(*unstructured.Unstructured)) (cache.GenericLister, error) {
		factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(env.Dynamic, 0, ns, func(options *metav1.ListOptions) {
			options.FieldSelector = "metadata.name=" + name
		})
		*shutdowns = append(*shutdowns, factory.Shutdown)
		informer := factory.ForResource(resource)
		if _, err := informer.Informer().AddEventHandler(handle(handler)); err != nil {
			return nil, err
		}
		factory.Start(ctx.Done())
		for synced, ok := range factory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return nil, fmt.Errorf("watch %s: cache not synced", synced)
			}
		}
		return informer.Lister(), nil
	}
	var err error
	if w.rollout, err = named(deploy.RolloutResource, deploy.RolloutName, on.rollout); err != nil {
		return nil, err
	}
	if w.route, err = named(deploy.HTTPRouteResource, deploy.RouteName, on.route); err != nil {
		return nil, err
	}
	typed.Start(ctx.Done())
	for synced, ok := range typed.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("watch %s: cache not synced", synced)
		}
	}
	return w, nil
}

// handle calls f with every object added or updated.
func handle[T any](f func(T)) cache.ResourceEventHandlerFuncs {
	call := func(obj any) {
		if object, ok := obj.(T); ok {
			f(object)
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: call, UpdateFunc: func(_, obj any) { call(obj) }}
}

// rolloutNow is the Rollout as the watch last saw it.
func (w *watches) rolloutNow() (deploy.Rollout, error) {
	object, err := w.rollout.ByNamespace(w.namespace).Get(deploy.RolloutName)
	if err != nil {
		return deploy.Rollout{}, err
	}
	return deploy.RolloutFrom(object.(*unstructured.Unstructured))
}

// routeNow is the HTTPRoute as the watch last saw it.
func (w *watches) routeNow() (*unstructured.Unstructured, error) {
	object, err := w.route.ByNamespace(w.namespace).Get(deploy.RouteName)
	if err != nil {
		return nil, err
	}
	return object.(*unstructured.Unstructured), nil
}

// podHash is a pod's rollouts-pod-template-hash ("" for a pod the watch does not know).
func (w *watches) podHash(name string) string {
	pod, err := w.pods.Pods(w.namespace).Get(name)
	if err != nil {
		return ""
	}
	return pod.Labels["rollouts-pod-template-hash"]
}
