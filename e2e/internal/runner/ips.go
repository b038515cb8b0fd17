package runner

import (
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ipPool hands out the addresses of the pods the runner starts, one per pod, from a range that
// is local inside the cluster's namespace; a pod keeps the address it already reports.
type ipPool struct {
	mu     sync.Mutex
	prefix netip.Prefix
	byPod  map[types.UID]netip.Addr
	used   map[netip.Addr]bool
}

func newIPPool(prefix netip.Prefix) *ipPool {
	return &ipPool{prefix: prefix, byPod: map[types.UID]netip.Addr{}, used: map[netip.Addr]bool{}}
}

func (p *ipPool) allocate(pod *corev1.Pod) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if addr, ok := p.byPod[pod.UID]; ok {
		return addr.String()
	}
	if addr, err := netip.ParseAddr(pod.Status.PodIP); err == nil && p.prefix.Contains(addr) && !p.used[addr] {
		p.byPod[pod.UID], p.used[addr] = addr, true
		return addr.String()
	}
	// Skip the network address and .1 of the range.
	for addr := p.prefix.Masked().Addr().Next().Next(); p.prefix.Contains(addr); addr = addr.Next() {
		if !p.used[addr] {
			p.byPod[pod.UID], p.used[addr] = addr, true
			return addr.String()
		}
	}
	panic("the process pod network " + p.prefix.String() + " is exhausted")
}

func (p *ipPool) release(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if addr, ok := p.byPod[uid]; ok {
		delete(p.used, addr)
		delete(p.byPod, uid)
	}
}
