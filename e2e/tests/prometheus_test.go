package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"greeter-gitops/e2e/fixture"
	"greeter-gitops/e2e/internal/deploy"
)

// Metrics of components that do not run in the test cluster, so no expression over them can have
// data here: cAdvisor (the kubelet's; kwok nodes have none), cert-manager and the gateway's nginx
// (NGINX Gateway Fabric; their controllers do not run). Every other selector of a rule, alert,
// dashboard or analysis must find series.
var absentHere = regexp.MustCompile(`^(container_|certmanager_|nginx_)`)

// The operator-configured Prometheus scrapes the greeter as on a cluster, and every query we ship
// — the canary analysis with its arguments filled as the Rollouts controller fills them, every
// recording rule, alert and dashboard panel — works against it.
func TestShippedQueriesWorkAgainstTheOperatorsPrometheus(t *testing.T) {
	f := fixture.New(t)
	s := f.Given().Overlay("dev").SecretsResolvedFromTheFakeStore().Cleanup().
		When().AppliedServerSide().
		Then().RolloutHealthy(3 * time.Minute).Serving(time.Minute)
	f.MustRun(nil, "apply", "--server-side", "--force-conflicts", "--field-manager=argocd-controller", "-k", f.Path("observability"))
	stable := s.StableHash()

	// Traffic in bursts a scrape apart (rate() needs two samples of a series).
	for range 4 {
		s.SendMix("greeter-stable", 10)
		time.Sleep(15 * time.Second)
	}

	f.Eventually("the greeter's series with its own labels", 2*time.Minute, func() error {
		for _, query := range []string{
			fmt.Sprintf(`greeter_http_requests_total{namespace=%q, job="greeter", endpoint="/visits", method="POST", rollouts_pod_template_hash=%q}`, s.Namespace(), stable),
			fmt.Sprintf(`greeter_http_requests_total{namespace=%q, endpoint="UNKNOWN", status="404"}`, s.Namespace()),
		} {
			if samples, err := f.Query(query); err != nil || len(samples) == 0 {
				return fmt.Errorf("no series for %s (%v)", query, err)
			}
		}
		return nil
	})
	if samples, err := f.Query(`count({__name__=~"greeter_.+", exported_endpoint!=""})`); err != nil || len(samples) != 0 {
		t.Fatalf("series still carry exported_endpoint (the target's endpoint label clobbered the route): %v %v", samples, err)
	}

	t.Run("unknown paths do not count in the analysis", func(t *testing.T) {
		all := fmt.Sprintf(`sum(increase(greeter_http_requests_total{namespace=%q, rollouts_pod_template_hash=%q}[5m]))`, s.Namespace(), stable)
		known := fmt.Sprintf(`sum(increase(greeter_http_requests_total{namespace=%q, rollouts_pod_template_hash=%q, endpoint!="UNKNOWN"}[5m]))`, s.Namespace(), stable)
		a, k := number(t, f, all), number(t, f, known)
		if !(k < a) {
			t.Fatalf(`endpoint!="UNKNOWN" filters nothing: %v requests with it, %v without`, k, a)
		}
	})

	t.Run("analysis queries return a number", func(t *testing.T) {
		for name, query := range analysisQueries(t, f, s, stable) {
			f.Eventually("analysis "+name, 2*time.Minute, func() error {
				samples, err := f.Query(query)
				if err != nil {
					return err
				}
				if len(samples) != 1 {
					return fmt.Errorf("%d samples", len(samples))
				}
				_, err = samples[0].Number()
				return err
			})
		}
	})

	t.Run("recording rules have series", func(t *testing.T) {
		absent := absentRecords(t, f, s.Namespace())
		for _, record := range prometheusRules(t, f).records {
			if absent[record.name] {
				// Guarded rules (`or 0 * ...`) have series even then; these do not.
				t.Logf("recording rule %s: no series, it reads metrics not in this cluster", record.name)
				continue
			}
			f.Eventually("recording rule "+record.name, 2*time.Minute, func() error {
				samples, err := f.Query(fmt.Sprintf(`%s{namespace=%q}`, record.name, s.Namespace()))
				if err == nil && len(samples) == 0 {
					err = fmt.Errorf("no series")
				}
				return err
			})
		}
	})

	t.Run("the canary analysis measures the canary through this Prometheus", func(t *testing.T) {
		s.NewRevision("analysed")
		f.Eventually("a successful measurement of every analysis metric", 4*time.Minute, func() error {
			s.SendMix("greeter-canary", 10)
			measurements := s.AnalysisMeasurements()
			for _, metric := range []string{"success-rate", "latency-p95"} {
				phases := measurements[metric]
				if len(phases) == 0 || phases[len(phases)-1] != "Successful" {
					return fmt.Errorf("%s measurements: %v", metric, phases)
				}
			}
			return nil
		})
	})

	// An alert selects the condition it fires on (a phase, a reason), which a healthy cluster does
	// not have: its expression must evaluate and every metric it reads must exist here.
	t.Run("alert expressions evaluate and read metrics that exist", func(t *testing.T) {
		for name, expr := range prometheusRules(t, f).alerts {
			if _, err := f.Query(expr); err != nil {
				t.Errorf("alert %s: %v", name, err)
			}
			selectors, err := f.Selectors(expr)
			if err != nil {
				t.Fatal(err)
			}
			for _, sel := range selectors {
				if absentHere.MatchString(sel.Name) {
					continue
				}
				if samples, err := f.Query(fmt.Sprintf(`count({__name__=%q})`, sel.Name)); err != nil || len(samples) == 0 {
					t.Errorf("alert %s reads %s, which nothing in the cluster exports (%v)", name, sel.Name, err)
				}
			}
		}
	})

	t.Run("dashboard panels return data", func(t *testing.T) {
		absent := absentRecords(t, f, s.Namespace())
		for panel, expr := range dashboardQueries(t, f, s.Namespace()) {
			samples, err := f.Query(expr)
			if err != nil {
				t.Errorf("panel %s: %v", panel, err)
				continue
			}
			if len(samples) > 0 || readsAbsent(t, f, expr, absent) {
				continue
			}
			t.Errorf("panel %s returns no data: %s", panel, expr)
		}
	})
}

// absentRecords are the recording rules without series here because they read metrics of
// components that do not run in the test cluster.
func absentRecords(t *testing.T, f *fixture.Fixture, namespace string) map[string]bool {
	t.Helper()
	absent := map[string]bool{}
	for _, record := range prometheusRules(t, f).records {
		if !readsAbsent(t, f, record.expr, absent) {
			continue
		}
		if samples, err := f.Query(fmt.Sprintf(`%s{namespace=%q}`, record.name, namespace)); err == nil && len(samples) == 0 {
			absent[record.name] = true
		}
	}
	return absent
}

func number(t *testing.T, f *fixture.Fixture, query string) float64 {
	t.Helper()
	samples, err := f.Query(query)
	if err != nil || len(samples) != 1 {
		t.Fatalf("%s: %v %v", query, samples, err)
	}
	v, err := samples[0].Number()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// analysisQueries are the AnalysisTemplate's queries with {{args.*}} filled as the Rollouts
// controller fills them for this overlay (namespace from the Rollout's, the canary hash, the
// template's default address).
func analysisQueries(t *testing.T, f *fixture.Fixture, s *fixture.Scenario, hash string) map[string]string {
	t.Helper()
	template, err := f.Dynamic.Resource(deploy.AnalysisTemplateResource).Namespace(s.Namespace()).
		Get(f.Ctx, "greeter-canary-analysis", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{"namespace": s.Namespace(), "canary-hash": hash}
	spec := template.Object["spec"].(map[string]any)
	for _, a := range spec["args"].([]any) {
		arg := a.(map[string]any)
		if v, ok := arg["value"].(string); ok {
			args[arg["name"].(string)] = v
		}
	}
	queries := map[string]string{}
	for _, m := range spec["metrics"].([]any) {
		metric := m.(map[string]any)
		query := metric["provider"].(map[string]any)["prometheus"].(map[string]any)["query"].(string)
		for name, value := range args {
			query = strings.ReplaceAll(query, "{{args."+name+"}}", value)
		}
		if strings.Contains(query, "{{") {
			t.Fatalf("analysis %s: unfilled argument in %s", metric["name"], query)
		}
		queries[metric["name"].(string)] = query
	}
	return queries
}

type rules struct {
	records []record // in evaluation order
	alerts  map[string]string
}

type record struct{ name, expr string }

// readsAbsent says whether a selector of expr reads metrics absent here, directly or through a
// recording rule found without series (absent).
func readsAbsent(t *testing.T, f *fixture.Fixture, expr string, absent map[string]bool) bool {
	t.Helper()
	selectors, err := f.Selectors(expr)
	if err != nil {
		t.Fatal(err)
	}
	for _, sel := range selectors {
		if absentHere.MatchString(sel.Name) || absent[sel.Name] {
			return true
		}
	}
	return false
}

// prometheusRules are the recording rules and alerts observability/ renders.
func prometheusRules(t *testing.T, f *fixture.Fixture) rules {
	t.Helper()
	rendered := f.MustRun(nil, "kustomize", f.Path("observability"))
	out := rules{alerts: map[string]string{}}
	for _, doc := range strings.Split(rendered, "\n---\n") {
		var rule struct {
			Kind string
			Spec struct {
				Groups []struct {
					Rules []struct{ Record, Alert, Expr string }
				}
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &rule); err != nil || rule.Kind != "PrometheusRule" {
			continue
		}
		for _, g := range rule.Spec.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out.records = append(out.records, record{r.Record, r.Expr})
				} else {
					out.alerts[r.Alert] = r.Expr
				}
			}
		}
	}
	if len(out.records) == 0 || len(out.alerts) == 0 {
		t.Fatal("observability/ renders no recording rules or alerts")
	}
	return out
}

// dashboardQueries are every panel query of the dashboards with Grafana's variables filled.
func dashboardQueries(t *testing.T, f *fixture.Fixture, namespace string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(f.Path("observability", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatal("no dashboards")
	}
	replacer := strings.NewReplacer("$namespace", namespace, "$__rate_interval", "1m", "$__interval", "30s", "$__range", "5m")
	queries := map[string]string{}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var dashboard struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(text, &dashboard); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, panel := range dashboard.Panels {
			for i, target := range panel.Targets {
				if target.Expr != "" {
					queries[fmt.Sprintf("%s/%s#%d", filepath.Base(file), panel.Title, i)] = replacer.Replace(target.Expr)
				}
			}
		}
	}
	return queries
}
