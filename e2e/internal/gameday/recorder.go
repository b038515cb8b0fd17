package gameday

import (
	"fmt"
	"io"
	"sync"
	"time"

	"greeter-gitops/e2e/internal/mix"
)

// recorder keeps what the game day saw, with the times it saw it.
type recorder struct {
	mu sync.Mutex
	// canaryHash is the new revision's pod-template hash, promoted says it became the stable one:
	// a request is served by the canary when a pod of the new revision answered it before that.
	canaryHash string
	promoted   bool
	samples    []sample
	weights    []weightChange
	ready      map[string]readiness // first time each pod was seen Ready
	log        io.Writer
	logged     int
}

// sample is one client request.
type sample struct {
	sent           time.Time
	canary, failed bool
}

// weightChange is the canary weight from a moment on.
type weightChange struct {
	at     time.Time
	canary int64
}

// readiness is when a pod of a revision was first seen Ready.
type readiness struct {
	hash string
	at   time.Time
}

// errorsLogged bounds the client errors written to the log one by one.
const errorsLogged = 20

func newRecorder(log io.Writer) *recorder {
	return &recorder{ready: map[string]readiness{}, log: log}
}

// request records one request; hash is the pod-template hash of the pod that answered ("" none).
// A request failed when it got no answer or not the status it must get: every 5xx, and a 4xx
// other than the expected one.
func (r *recorder) request(request mix.Request, sent time.Time, response Response, hash string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	failed := response.Err != nil || response.Status != request.Status
	canary := hash != "" && hash == r.canaryHash && !r.promoted
	r.samples = append(r.samples, sample{sent: sent, canary: canary, failed: failed})
	if failed && r.log != nil {
		r.logged++
		switch {
		case r.logged <= errorsLogged:
			answer := fmt.Sprint(response.Status)
			if response.Err != nil {
				answer = response.Err.Error()
			}
			fmt.Fprintf(r.log, "client error: %s %s via %q pod %q (canary %v): %s, want %d\n",
				request.Method, request.Path, response.Backend, response.Pod, canary, answer, request.Status)
		case r.logged == errorsLogged+1:
			fmt.Fprintf(r.log, "client error: more than %d, counted but not logged\n", errorsLogged)
		}
	}
}

// weight records the canary weight the route carries from now on.
func (r *recorder) weight(at time.Time, canary int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.weights); n == 0 || r.weights[n-1].canary != canary {
		r.weights = append(r.weights, weightChange{at: at, canary: canary})
	}
}

// podReady records when a pod was first seen Ready.
func (r *recorder) podReady(pod, hash string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.ready[pod]; !seen {
		r.ready[pod] = readiness{hash: hash, at: at}
	}
}

// newRevision names the canary's hash (known once the controller created its ReplicaSet).
func (r *recorder) newRevision(hash string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.canaryHash = hash
}

// newRevisionStable marks the moment the canary became the stable revision.
func (r *recorder) newRevisionStable() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.promoted = true
}

// lastCanary is when the canary last served a request (zero: never).
func (r *recorder) lastCanary() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.samples) - 1; i >= 0; i-- {
		if r.samples[i].canary {
			return r.samples[i].sent
		}
	}
	return time.Time{}
}

// canaryWeight is the canary weight the route carries now.
func (r *recorder) canaryWeight() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.weights) == 0 {
		return 0
	}
	return r.weights[len(r.weights)-1].canary
}
