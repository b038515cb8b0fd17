package gameday

// smoothWeighted picks backends by nginx's smooth weighted round robin
// (src/http/ngx_http_upstream_round_robin.c ngx_http_upstream_get_peer): every pick adds each
// weight to its backend's current value, takes the highest, and takes the total off it. Picks are
// deterministic and evenly interleaved: weights 1 and 99 give exactly one pick in every hundred.
type smoothWeighted struct {
	weights []int64
	current []int64
}

func newSmoothWeighted(weights []int64) *smoothWeighted {
	return &smoothWeighted{weights: weights, current: make([]int64, len(weights))}
}

// next is the index of the next backend, or -1 when every weight is 0.
func (s *smoothWeighted) next() int {
	var total int64
	best := -1
	for i, weight := range s.weights {
		if weight <= 0 {
			continue
		}
		s.current[i] += weight
		total += weight
		if best < 0 || s.current[i] > s.current[best] {
			best = i
		}
	}
	if best >= 0 {
		s.current[best] -= total
	}
	return best
}
