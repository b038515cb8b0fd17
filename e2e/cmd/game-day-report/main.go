// Command game-day-report turns game-day reports (scripts/game-day --json, target/game-days/) into
// what docs/release-safety.md shows:
//
//	game-day-report table DIR        a Markdown table of every report in DIR, one row per run
//	game-day-report plot REPORT.json an SVG of the canary's weight and error rate over time
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"greeter-gitops/e2e/internal/gameday"
)

const usage = "usage: game-day-report table DIR | plot REPORT.json"

func main() {
	if len(os.Args) != 3 {
		fail(usage)
	}
	var err error
	switch os.Args[1] {
	case "table":
		err = table(os.Args[2])
	case "plot":
		var report gameday.Report
		if report, err = read(os.Args[2]); err == nil {
			fmt.Print(plot(report))
		}
	default:
		fail(usage)
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "game-day-report:", message)
	os.Exit(2)
}

func read(path string) (gameday.Report, error) {
	var report gameday.Report
	text, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(text, &report)
	}
	if err != nil {
		return report, fmt.Errorf("%s: %w", path, err)
	}
	return report, nil
}

// table prints one row per report, named after its file (the game day's test name).
func table(dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("no reports in %s (%v)", dir, err)
	}
	sort.Strings(paths)
	fmt.Println("| game day | env | clients (req/s) | verdict | s from first canary pod Ready to verdict | highest canary weight | client requests served by the canary | of those failed | client requests failed | s the canary served after the abort |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, path := range paths {
		r, err := read(path)
		if err != nil {
			return err
		}
		verdict := string(r.Verdict)
		if r.AbortedByRunner {
			verdict += " (by hand)"
		}
		fmt.Printf("| %s | %s | %g%s | %s | %s | %d %% | %d (%.1f %%) | %d (%.1f %%) | %d of %d (%.2f %%) | %s |\n",
			strings.TrimSuffix(filepath.Base(path), ".json"), r.Env, r.TrafficRPS, mixNote(r.Mix), verdict,
			seconds(r.SecondsCanaryReadyToVerdict), r.MaxCanaryWeight,
			r.Canary.Served, 100*r.Canary.ServedShare, r.Canary.Failed, 100*r.Canary.FailedShare,
			r.Requests.Failed, r.Requests.Total, 100*r.Requests.FailedShare, seconds(r.SecondsCanaryServedAfterAbort))
	}
	return nil
}

func mixNote(mix gameday.Mix) string {
	if mix == gameday.MixUnknownPaths {
		return " (unknown paths)"
	}
	return ""
}

func seconds(value *float64) string {
	if value == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f", *value)
}

// Plot geometry: a time axis from the report's first to last second, weight and error rate both
// 0–100 %.
const (
	width, height            = 720, 300
	left, right, top, bottom = 50, 20, 30, 40
)

// plot draws the route's canary weight (the controller's) and the share of the canary's requests
// that failed, per second, with the verdict marked.
func plot(r gameday.Report) string {
	timeline := r.Timeline
	if len(timeline) == 0 {
		return ""
	}
	first, last := timeline[0].Second, timeline[len(timeline)-1].Second
	x := func(second int) float64 {
		return left + float64(second-first)*float64(width-left-right)/float64(max(last-first, 1))
	}
	y := func(percent float64) float64 {
		return top + (100-percent)*float64(height-top-bottom)/100
	}
	var weight, errors strings.Builder
	for _, s := range timeline {
		fmt.Fprintf(&weight, "%.1f,%.1f ", x(s.Second), y(float64(s.CanaryWeight)))
		if s.CanaryRequests > 0 {
			fmt.Fprintf(&errors, "%.1f,%.1f ", x(s.Second), y(100*float64(s.CanaryErrors)/float64(s.CanaryRequests)))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="18">%s, %s at %g req/s: %s</text>`+"\n", left, r.Env, filepath.Base(r.Change), r.TrafficRPS, r.Verdict)
	for _, percent := range []float64{0, 50, 100} {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="8" y="%.1f">%g %%</text>`+"\n",
			left, width-right, y(percent), y(percent), y(percent)+4, percent)
	}
	for second := first - first%30; second <= last; second += 30 {
		if second >= first {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d s</text>`+"\n", x(second), height-bottom+18, second)
		}
	}
	verdict := int(r.SecondsApplyToVerdict)
	fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#888" stroke-dasharray="4"/><text x="%.1f" y="%d">%s</text>`+"\n",
		x(verdict), x(verdict), top, height-bottom, x(verdict)+4, top+12, r.Verdict)
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="%s"/>`+"\n", weight.String())
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#d62728" stroke-width="2" points="%s"/>`+"\n", errors.String())
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1f77b4">canary weight (HTTPRoute)</text><text x="%d" y="%d" fill="#d62728">share of the canary's client requests that failed</text>`+"\n",
		left, height-6, left+200, height-6)
	b.WriteString("</svg>\n")
	return b.String()
}
