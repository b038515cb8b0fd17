package runner

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// environment computes a container's environment as the kubelet does (kubelet_pods.go
// makeEnvironmentVariables): service variables of the pod's namespace (and the kubernetes
// Service), then envFrom in order, then env in order with $(VAR) expansion against what is
// defined so far. Later definitions win.
func environment(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, node *corev1.Node, container *corev1.Container) ([]string, error) {
	vars := newOrderedEnv()
	services, err := serviceVariables(ctx, client, pod)
	if err != nil {
		return nil, err
	}
	for _, kv := range services {
		vars.set(kv[0], kv[1])
	}
	for _, from := range container.EnvFrom {
		data, err := envFromData(ctx, client, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for key := range data {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			name := from.Prefix + key
			if envNamePattern.MatchString(name) {
				vars.set(name, data[key])
			}
		}
	}
	for _, env := range container.Env {
		if env.ValueFrom == nil {
			vars.set(env.Name, expand(env.Value, vars.lookup))
			continue
		}
		value, ok, err := envValueFrom(ctx, client, pod, node, container, env.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", env.Name, err)
		}
		if ok {
			vars.set(env.Name, value)
		}
	}
	return vars.list(), nil
}

// envNamePattern is what the kubelet accepts as a variable name from envFrom (C identifier-ish,
// validation.IsEnvVarName: no '=').
var envNamePattern = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

type orderedEnv struct {
	order  []string
	values map[string]string
}

func newOrderedEnv() *orderedEnv { return &orderedEnv{values: map[string]string{}} }

func (e *orderedEnv) set(name, value string) {
	if _, ok := e.values[name]; !ok {
		e.order = append(e.order, name)
	}
	e.values[name] = value
}

func (e *orderedEnv) lookup(name string) (string, bool) {
	v, ok := e.values[name]
	return v, ok
}

func (e *orderedEnv) list() []string {
	out := make([]string, len(e.order))
	for i, name := range e.order {
		out[i] = name + "=" + e.values[name]
	}
	return out
}

// expand replaces $(NAME) with NAME's value when defined and $$ with $, leaving anything else as
// written (k8s.io/kubernetes third_party/forked/golang/expansion).
func expand(input string, lookup func(string) (string, bool)) string {
	var out strings.Builder
	for i := 0; i < len(input); i++ {
		if input[i] != '$' || i+1 >= len(input) {
			out.WriteByte(input[i])
			continue
		}
		switch next := input[i+1]; {
		case next == '$':
			out.WriteByte('$')
			i++
		case next == '(':
			end := strings.IndexByte(input[i+2:], ')')
			if end < 0 {
				out.WriteString(input[i:])
				return out.String()
			}
			name := input[i+2 : i+2+end]
			if value, ok := lookup(name); ok {
				out.WriteString(value)
			} else {
				out.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			out.WriteByte('$')
		}
	}
	return out.String()
}

// expandAll expands every element against a finished environment.
func expandAll(args []string, env []string) []string {
	values := map[string]string{}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		values[name] = value
	}
	lookup := func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	out := make([]string, len(args))
	for i, arg := range args {
		out[i] = expand(arg, lookup)
	}
	return out
}

func envFromData(ctx context.Context, client kubernetes.Interface, namespace string, from corev1.EnvFromSource) (map[string]string, error) {
	data := map[string]string{}
	switch {
	case from.ConfigMapRef != nil:
		cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && isTrue(from.ConfigMapRef.Optional) {
			return data, nil
		}
		if apierrors.IsNotFound(err) {
			return nil, missingError{"configmap " + from.ConfigMapRef.Name}
		}
		if err != nil {
			return nil, err
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		secret, err := client.CoreV1().Secrets(namespace).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && isTrue(from.SecretRef.Optional) {
			return data, nil
		}
		if apierrors.IsNotFound(err) {
			return nil, missingError{"secret " + from.SecretRef.Name}
		}
		if err != nil {
			return nil, err
		}
		for k, v := range secret.Data {
			data[k] = string(v)
		}
	}
	return data, nil
}

func envValueFrom(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, node *corev1.Node, container *corev1.Container, from *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case from.FieldRef != nil:
		v, err := fieldValue(pod, from.FieldRef.FieldPath)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		ref := *from.ResourceFieldRef
		if ref.ContainerName == "" {
			ref.ContainerName = container.Name
		}
		v, err := resourceValue(pod, node, &ref)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				if isTrue(ref.Optional) {
					return "", false, nil
				}
				return "", false, missingError{"configmap " + ref.Name}
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok && !isTrue(ref.Optional) {
			return "", false, missingError{fmt.Sprintf("key %s of configmap %s", ref.Key, ref.Name)}
		}
		return v, ok, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		secret, err := client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				if isTrue(ref.Optional) {
					return "", false, nil
				}
				return "", false, missingError{"secret " + ref.Name}
			}
			return "", false, err
		}
		v, ok := secret.Data[ref.Key]
		if !ok && !isTrue(ref.Optional) {
			return "", false, missingError{fmt.Sprintf("key %s of secret %s", ref.Key, ref.Name)}
		}
		return string(v), ok, nil
	}
	return "", false, nil
}

// fieldValue is a downward-API field of the pod.
func fieldValue(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		return joinIPs(pod.Status.HostIPs), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		ips := make([]string, len(pod.Status.PodIPs))
		for i, ip := range pod.Status.PodIPs {
			ips[i] = ip.IP
		}
		return strings.Join(ips, ","), nil
	case "metadata.labels", "metadata.annotations":
		m := pod.Labels
		if path == "metadata.annotations" {
			m = pod.Annotations
		}
		var lines []string
		for k, v := range m {
			lines = append(lines, k+"="+strconv.Quote(v))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n"), nil
	}
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if key, ok := strings.CutPrefix(path, prefix); ok {
			key = strings.TrimSuffix(key, "']")
			if strings.HasPrefix(prefix, "metadata.labels") {
				return pod.Labels[key], nil
			}
			return pod.Annotations[key], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %s", path)
}

func joinIPs(ips []corev1.HostIP) string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.IP
	}
	return strings.Join(out, ",")
}

// resourceValue is a container's request or limit in the divisor's unit, rounded up; an unset
// limit reads as the node's allocatable (the kubelet's rule).
func resourceValue(pod *corev1.Pod, node *corev1.Node, ref *corev1.ResourceFieldSelector) (string, error) {
	for _, c := range pod.Spec.Containers {
		if c.Name != ref.ContainerName {
			continue
		}
		kind, name, _ := strings.Cut(ref.Resource, ".")
		list := c.Resources.Limits
		if kind == "requests" {
			list = c.Resources.Requests
		}
		quantity, ok := list[corev1.ResourceName(name)]
		if !ok {
			quantity = node.Status.Allocatable[corev1.ResourceName(name)]
		}
		divisor := ref.Divisor
		if divisor.IsZero() {
			divisor = resource.MustParse("1")
		}
		return strconv.FormatInt(int64(math.Ceil(float64(quantity.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return "", fmt.Errorf("resourceFieldRef: no container %s", ref.ContainerName)
}
