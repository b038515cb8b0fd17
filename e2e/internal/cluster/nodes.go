package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

var getOptions = metav1.GetOptions{}

// Topology is how many zones the cluster has and how many nodes each.
type Topology struct {
	Zones        int
	NodesPerZone int
}

// DefaultTopology is enough for prod's hard spread over zones (3 replicas, 3 zones) with a
// second node per zone for the soft spread over nodes.
var DefaultTopology = Topology{Zones: 3, NodesPerZone: 2}

// Region of every node.
const Region = "region-1"

func zoneName(zone int) string { return fmt.Sprintf("zone-%c", 'a'+zone) }

// createNodes registers the kwok nodes, labelled like a cloud provider's: hostname, zone, region.
func createNodes(client *kubernetes.Clientset, topology Topology) error {
	ctx := context.Background()
	index := 0
	for zone := range topology.Zones {
		for n := range topology.NodesPerZone {
			index++
			name := fmt.Sprintf("node-%s-%d", zoneName(zone)[len("zone-"):], n+1)
			node := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{
					Name: name,
					Labels: map[string]string{
						NodeLabel:                       NodeLabelValue,
						"kubernetes.io/hostname":        name,
						"kubernetes.io/os":              "linux",
						"kubernetes.io/arch":            "amd64",
						"topology.kubernetes.io/zone":   zoneName(zone),
						"topology.kubernetes.io/region": Region,
					},
					Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
				},
				Status: corev1.NodeStatus{
					Addresses: []corev1.NodeAddress{
						{Type: corev1.NodeInternalIP, Address: nthAddr(NodeNetwork, 256+index).String()},
						{Type: corev1.NodeHostName, Address: name},
					},
					Capacity:    nodeResources(),
					Allocatable: nodeResources(),
				},
			}
			_, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("node %s: %w", name, err)
			}
		}
	}
	return waitFor("nodes Ready (kwok)", 60*time.Second, func() error {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, node := range nodes.Items {
			for _, condition := range node.Status.Conditions {
				if condition.Type == corev1.NodeReady && condition.Status == corev1.ConditionTrue && node.Spec.PodCIDR != "" {
					ready++
				}
			}
		}
		if want := topology.Zones * topology.NodesPerZone; ready < want {
			return fmt.Errorf("%d of %d nodes Ready with a pod CIDR", ready, want)
		}
		return nil
	})
}

// nodeResources is a modest machine, so requests and limits mean something to the scheduler.
func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}
