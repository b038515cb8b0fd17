package gameday

import (
	"reflect"
	"testing"
)

func picks(weights []int64, n int) []int {
	s := newSmoothWeighted(weights)
	out := make([]int, n)
	for i := range out {
		out[i] = s.next()
	}
	return out
}

// The emulated gateway splits exactly by weight, interleaved, the same way every run.
func TestSmoothWeightedSplitsExactlyByWeight(t *testing.T) {
	for _, weights := range [][]int64{{50, 50}, {99, 1}, {80, 20}, {0, 100}, {100, 0}, {95, 5}} {
		counts := make([]int, len(weights))
		for _, pick := range picks(weights, 1000) {
			counts[pick]++
		}
		for i, weight := range weights {
			if want := int(weight) * 10; counts[i] != want {
				t.Errorf("weights %v: backend %d picked %d times in 1000, want %d", weights, i, counts[i], want)
			}
		}
	}
}

func TestSmoothWeightedInterleaves(t *testing.T) {
	if got, want := picks([]int64{50, 50}, 6), []int{0, 1, 0, 1, 0, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("50/50: %v, want %v", got, want)
	}
	// nginx's own example (5, 1, 1): a, a, b, a, c, a, a — never five in a row.
	if got, want := picks([]int64{5, 1, 1}, 7), []int{0, 0, 1, 0, 2, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("5/1/1: %v, want %v", got, want)
	}
}

func TestSmoothWeightedWithoutWeightPicksNothing(t *testing.T) {
	if got := picks([]int64{0, 0}, 1)[0]; got != -1 {
		t.Errorf("weights 0/0 picked %d, want -1", got)
	}
}
