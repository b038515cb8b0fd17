package gameday

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"greeter-gitops/e2e/internal/mix"
)

// maxRPS bounds the client traffic: the test cluster shares two cores with everything it runs.
const maxRPS = 500

// traffic sends a mix's requests in turn through the gateway, evenly spaced: request i leaves at
// start + i/rps whatever the answers before it (each in its own goroutine), so a slow canary does
// not slow the traffic down, as real clients would not.
type traffic struct {
	stop    context.CancelFunc
	done    chan struct{}
	flights sync.WaitGroup
	// maxLag is the longest a request left after its time (nanoseconds): the harness's own delay.
	maxLag atomic.Int64
}

// startTraffic starts sending; record gets every request's outcome. With rps 0 nothing is sent.
func startTraffic(ctx context.Context, gateway *Gateway, requests []mix.Request, rps float64, record func(mix.Request, time.Time, Response)) *traffic {
	scheduling, stop := context.WithCancel(ctx)
	t := &traffic{stop: stop, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		if rps == 0 {
			<-scheduling.Done()
			return
		}
		interval := time.Duration(float64(time.Second) / rps)
		start := time.Now()
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * interval)
			select {
			case <-scheduling.Done():
				return
			case <-time.After(time.Until(at)):
			}
			sent := time.Now()
			if lag := int64(sent.Sub(at)); lag > t.maxLag.Load() {
				t.maxLag.Store(lag)
			}
			request := requests[i%len(requests)]
			t.flights.Add(1)
			go func() {
				defer t.flights.Done()
				// Requests already sent finish after the traffic stops (ctx: only an interrupt ends them).
				record(request, sent, gateway.Send(ctx, request))
			}()
		}
	}()
	return t
}

// finish stops sending and waits for the requests in flight (each bounded by requestTimeout).
func (t *traffic) finish() {
	t.stop()
	<-t.done
	t.flights.Wait()
}
