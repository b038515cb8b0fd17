// Command notification-render evaluates one Argo Rollouts notification template text the way the
// controller does, so tests can check what a template sends without a cluster. It reads a JSON
// request on stdin: {"template": TEXT, "vars": {"rollout": OBJ, "analysisRuns": LIST}, "now": RFC3339}
// and prints the rendered text.
//
// What it mirrors, at the versions argo-rollouts v1.9.0 builds (tools/upstream/argo-rollouts):
//   - functions: sprig's TxtFuncMap without env and expandenv (notifications-engine v0.5.0
//     pkg/templates/service.go NewService);
//   - parsing: text/template with those functions (pkg/services/webhook.go GetTemplater);
//   - variables: rollout, analysisRuns, time{Parse, Now} and secrets (argo-rollouts
//     utils/record/record.go NewAPIFactorySettings), plus serviceType and recipient
//     (notifications-engine pkg/api/api.go Send). Now is fixed to "now" so the output is stable.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	texttemplate "text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

type request struct {
	Template    string         `json:"template"`
	Vars        map[string]any `json:"vars"`
	Now         string         `json:"now"`
	ServiceType string         `json:"serviceType"`
	Recipient   string         `json:"recipient"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "notification-render:", err)
		os.Exit(1)
	}
}

func run() error {
	var req request
	decoder := json.NewDecoder(os.Stdin)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	now, err := time.Parse(time.RFC3339, req.Now)
	if err != nil {
		return fmt.Errorf("now: %w", err)
	}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	template, err := texttemplate.New("notification").Funcs(funcs).Parse(req.Template)
	if err != nil {
		return err
	}
	vars := map[string]any{
		"rollout":      req.Vars["rollout"],
		"analysisRuns": req.Vars["analysisRuns"],
		"time": map[string]any{
			"Parse": func(timestamp string) time.Time {
				parsed, err := time.Parse(time.RFC3339, timestamp)
				if err != nil {
					panic(err)
				}
				return parsed
			},
			"Now": func() time.Time { return now },
		},
		"secrets":     map[string][]byte{},
		"serviceType": req.ServiceType,
		"recipient":   req.Recipient,
	}
	return template.Execute(os.Stdout, vars)
}
