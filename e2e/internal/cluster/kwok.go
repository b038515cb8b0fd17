package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"greeter-gitops/e2e/internal/images"
)

// kwokStages are kwok's own stages from the pinned module, as kwokctl configures them by default:
// node initialization and heartbeats with leases (kustomize/stage/node/fast, heartbeat-with-lease)
// and the general pod lifecycle (kustomize/stage/pod/general), each pod stage narrowed to pods the
// runner does not start: those keep kwok's simulated status, the others get their status from the
// real process.
func kwokStages(l Layout) ([]byte, error) {
	out, err := exec.Command(filepath.Join(l.Repo, "scripts", "upstream"), "source", "kwok").Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/upstream source kwok: %w", err)
	}
	stages := filepath.Join(strings.TrimSpace(string(out)), "kustomize", "stage")
	var nodeFiles []string
	for _, pattern := range []string{"node/fast/node-*.yaml", "node/heartbeat-with-lease/node-*.yaml"} {
		matched, _ := filepath.Glob(filepath.Join(stages, pattern))
		nodeFiles = append(nodeFiles, matched...)
	}
	files, err := filepath.Glob(filepath.Join(stages, "pod", "general", "pod-*.yaml"))
	if err != nil || len(files) == 0 || len(nodeFiles) != 2 {
		return nil, fmt.Errorf("kwok's stages are not where they were in %s", stages)
	}
	var docs []string
	for _, file := range nodeFiles {
		text, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		docs = append(docs, string(text))
	}
	notRunByRunner := map[string]any{
		"key":      fmt.Sprintf(`.spec.containers | map(.image | test(%q)) | any`, images.Pattern()),
		"operator": "NotIn",
		"values":   []string{"true"},
	}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var stage map[string]any
		if err := yaml.Unmarshal(text, &stage); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		spec, _ := stage["spec"].(map[string]any)
		selector, _ := spec["selector"].(map[string]any)
		if selector == nil {
			return nil, fmt.Errorf("%s: stage without selector", file)
		}
		expressions, _ := selector["matchExpressions"].([]any)
		selector["matchExpressions"] = append(expressions, notRunByRunner)
		doc, err := yaml.Marshal(stage)
		if err != nil {
			return nil, err
		}
		docs = append(docs, string(doc))
	}
	return []byte(strings.Join(docs, "---\n")), nil
}

// startKwok starts kwok for the nodes labelled type=kwok with the stages above.
func startKwok(l Layout) error {
	stages, err := kwokStages(l)
	if err != nil {
		return err
	}
	config := l.Config("kwok.yaml")
	if err := os.WriteFile(config, stages, 0o644); err != nil {
		return err
	}
	argv := []string{
		l.Bin("kwok"),
		"--config=" + config,
		"--kubeconfig=" + l.componentKubeconfig("kwok"),
		"--manage-nodes-with-label-selector=" + NodeLabel + "=" + NodeLabelValue,
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:10247",
		"--v=INFO",
	}
	if err := startDaemon(l, "kwok", argv, nil); err != nil {
		return err
	}
	return waitFor("kwok", 30*time.Second, func() error {
		if !running(l, "kwok") {
			return fmt.Errorf("kwok exited (see %s)", l.Log("kwok"))
		}
		return nil
	})
}
