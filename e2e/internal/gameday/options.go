// Package gameday runs a game day on the test cluster: an environment deployed as Argo CD deploys
// it, a release (a change layered over the overlay) applied the same way, client traffic through an
// emulated gateway while the real Argo Rollouts controller moves the canary, and the verdict the
// controller reaches, measured (docs/testing.md, "Game days"). scripts/game-day and the scenarios
// in e2e/gamedays both run it.
package gameday

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"greeter-gitops/e2e/internal/mix"
)

// Mix names the requests the client traffic sends.
type Mix string

// The mixes: every route the SLOs cover, or only paths no route serves (scanners).
const (
	MixRoutes       Mix = "routes"
	MixUnknownPaths Mix = "unknown-paths"
)

// Requests are the mix's requests, sent in turn.
func (m Mix) Requests() []mix.Request {
	if m == MixUnknownPaths {
		return mix.UnknownPaths
	}
	return mix.Routes
}

// Environments are the overlays a game day can run.
var Environments = []string{"dev", "staging", "prod"}

// DefaultSeconds bounds the wait from the apply to a verdict.
const DefaultSeconds = 600

// Options of one game day.
type Options struct {
	// Env is the environment: deploy/overlays/ENV in namespace greeter-ENV.
	Env string
	// Change is the new release: a Kustomize Component file layered over the overlay.
	Change string
	// RPS is the client traffic through the emulated gateway, in requests per second (0: none).
	RPS float64
	// Mix is what that traffic asks for.
	Mix Mix
	// Seconds bounds the wait from the apply to a verdict; then the verdict is "progressing".
	Seconds int
	// SkipPauses skips every pause step as `kubectl argo rollouts promote` does (never analysis).
	SkipPauses bool
	// AbortAtWeight aborts the Rollout as `kubectl argo rollouts abort` does once the route gives
	// the canary at least this weight (0: never): a bad release found late, at that step.
	AbortAtWeight int64
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Validate says what is wrong with the options, in the CLI's words.
func (o Options) Validate() error {
	var problems []error
	if !slices.Contains(Environments, o.Env) {
		problems = append(problems, fmt.Errorf("--env %q: want one of %v", o.Env, Environments))
	}
	if o.Change == "" {
		problems = append(problems, errors.New("--change FILE is required: the release, a Kustomize Component (e2e/gamedays/changes/)"))
	}
	if math.IsNaN(o.RPS) || o.RPS < 0 || o.RPS > maxRPS {
		problems = append(problems, fmt.Errorf("--traffic %v: want requests per second from 0 to %d", o.RPS, maxRPS))
	}
	if o.Mix != MixRoutes && o.Mix != MixUnknownPaths {
		problems = append(problems, fmt.Errorf("--mix %q: want %s or %s", o.Mix, MixRoutes, MixUnknownPaths))
	}
	if o.AbortAtWeight < 0 || o.AbortAtWeight > 100 {
		problems = append(problems, fmt.Errorf("--abort-at-weight %d: want a canary weight from 1 to 100 (0: never)", o.AbortAtWeight))
	}
	if o.Seconds <= 0 {
		problems = append(problems, fmt.Errorf("--seconds %d: want a positive number", o.Seconds))
	}
	return errors.Join(problems...)
}

// deadline is how long the controller gets from the apply to a verdict.
func (o Options) deadline() time.Duration { return time.Duration(o.Seconds) * time.Second }
