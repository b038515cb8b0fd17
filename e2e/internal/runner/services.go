package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// serviceVariables are the Service environment variables the kubelet gives a container
// (pkg/kubelet/envvars FromServices): the kubernetes Service's always, and every Service of the
// pod's namespace with a ClusterIP unless the pod turns service links off.
func serviceVariables(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) ([][2]string, error) {
	var services []corev1.Service
	master, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	services = append(services, *master)
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list, err := client.CoreV1().Services(pod.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, svc := range list.Items {
			if pod.Namespace != metav1.NamespaceDefault || svc.Name != "kubernetes" {
				services = append(services, svc)
			}
		}
	}
	sort.SliceStable(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	var vars [][2]string
	for _, svc := range services {
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
			continue
		}
		name := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
		ip := svc.Spec.ClusterIP
		first := svc.Spec.Ports[0]
		vars = append(vars,
			[2]string{name + "_SERVICE_HOST", ip},
			[2]string{name + "_SERVICE_PORT", fmt.Sprint(first.Port)})
		for _, port := range svc.Spec.Ports {
			if port.Name != "" {
				portName := strings.ToUpper(strings.ReplaceAll(port.Name, "-", "_"))
				vars = append(vars, [2]string{name + "_SERVICE_PORT_" + portName, fmt.Sprint(port.Port)})
			}
		}
		// Docker-link style variables.
		proto := strings.ToLower(string(first.Protocol))
		vars = append(vars, [2]string{name + "_PORT", fmt.Sprintf("%s://%s:%d", proto, ip, first.Port)})
		for _, port := range svc.Spec.Ports {
			proto := strings.ToLower(string(port.Protocol))
			prefix := fmt.Sprintf("%s_PORT_%d_%s", name, port.Port, strings.ToUpper(proto))
			vars = append(vars,
				[2]string{prefix, fmt.Sprintf("%s://%s:%d", proto, ip, port.Port)},
				[2]string{prefix + "_PROTO", proto},
				[2]string{prefix + "_PORT", fmt.Sprint(port.Port)},
				[2]string{prefix + "_ADDR", ip})
		}
	}
	return vars, nil
}
