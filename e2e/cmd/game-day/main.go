// Command game-day runs one game day on the test cluster (scripts/game-day, docs/testing.md):
// it prints what happened and writes it as JSON; it exits 0 whatever the verdict, 1 when the
// harness itself failed, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"greeter-gitops/e2e/internal/deploy"
	"greeter-gitops/e2e/internal/gameday"
)

const usage = `usage: scripts/game-day --env dev|staging|prod --change FILE --traffic RPS [--seconds N] [--json OUT] [--skip-pauses] [--mix routes|unknown-paths] [--abort-at-weight N]

Deploys the environment fresh on the test cluster, sends client traffic through the emulated
gateway, applies the release FILE (a Kustomize Component layered over the overlay) as Argo CD
would, and reports the Argo Rollouts controller's verdict: promoted, aborted, paused-inconclusive
or progressing. Examples of FILE: e2e/gamedays/changes/.

`

func main() {
	flags := flag.NewFlagSet("game-day", flag.ContinueOnError)
	flags.Usage = func() {
		fmt.Fprint(os.Stderr, usage)
		flags.PrintDefaults()
	}
	opts := gameday.Options{Log: os.Stderr}
	flags.StringVar(&opts.Env, "env", "", "environment: dev, staging or prod")
	flags.StringVar(&opts.Change, "change", "", "the release: a Kustomize Component file")
	flags.Float64Var(&opts.RPS, "traffic", -1, "client requests per second through the emulated gateway (0: none)")
	flags.IntVar(&opts.Seconds, "seconds", gameday.DefaultSeconds, "longest wait from the apply to a verdict")
	flags.BoolVar(&opts.SkipPauses, "skip-pauses", false, "skip pause steps as `kubectl argo rollouts promote` does (never analysis)")
	flags.Int64Var(&opts.AbortAtWeight, "abort-at-weight", 0, "abort as `kubectl argo rollouts abort` does once the canary has this weight (0: never)")
	mix := flags.String("mix", string(gameday.MixRoutes), "client requests: routes (every route) or unknown-paths (scanners)")
	out := flags.String("json", "", "write the report as JSON to this file")
	if err := flags.Parse(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		os.Exit(2)
	}
	opts.Mix = gameday.Mix(*mix)
	if flags.NArg() > 0 {
		badUsage(fmt.Errorf("unexpected argument %q", flags.Arg(0)))
	}
	if !flagSet(flags, "traffic") {
		badUsage(fmt.Errorf("--traffic RPS is required (0 for no client traffic)"))
	}
	if err := opts.Validate(); err != nil {
		badUsage(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	repo, err := deploy.FindRepo()
	if err != nil {
		fail(err)
	}
	cluster, err := deploy.Connect(repo)
	if err != nil {
		fail(err)
	}
	report, err := gameday.Run(ctx, cluster, opts)
	if err != nil {
		fail(err)
	}
	fmt.Print(report.Summary())
	if *out != "" {
		text, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(*out, append(text, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
}

func flagSet(flags *flag.FlagSet, name string) bool {
	set := false
	flags.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func badUsage(err error) {
	fmt.Fprintf(os.Stderr, "game-day: %v\n\n%s", err, usage)
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "game-day:", err)
	os.Exit(1)
}
