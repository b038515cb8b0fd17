package gameday

import (
	"fmt"
	"os"
	"slices"
	"sort"

	"sigs.k8s.io/yaml"
)

// changeKeys are what a change may hold: the brief of a release (a ConfigMap literal, an image, a
// patch, a replica count), inline. Anything naming another file is refused: the change is copied
// into a temporary kustomization (a component must be a directory), where relative paths would
// resolve elsewhere.
var changeKeys = []string{"apiVersion", "kind", "metadata", "configMapGenerator", "images", "patches", "replicas"}

// readChange reads a change file and checks that it is a self-contained Kustomize Component.
func readChange(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--change: %w", err)
	}
	var change map[string]any
	if err := yaml.Unmarshal(text, &change); err != nil {
		return nil, fmt.Errorf("--change %s: not YAML: %w", path, err)
	}
	if change["apiVersion"] != "kustomize.config.k8s.io/v1alpha1" || change["kind"] != "Component" {
		return nil, fmt.Errorf("--change %s: want a Kustomize Component (apiVersion: kustomize.config.k8s.io/v1alpha1, kind: Component), got %v %v",
			path, change["apiVersion"], change["kind"])
	}
	var keys []string
	for key := range change {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if !slices.Contains(changeKeys, key) {
			return nil, fmt.Errorf("--change %s: %s is not part of a change (a change holds only %v, inline)", path, key, changeKeys[2:])
		}
	}
	if err := refuseFileReferences(change, path); err != nil {
		return nil, err
	}
	return text, nil
}

// refuseFileReferences refuses the fields of the allowed keys that name files.
func refuseFileReferences(change map[string]any, path string) error {
	for field, names := range map[string][]string{"patches": {"path"}, "configMapGenerator": {"files", "envs", "env"}} {
		entries, _ := change[field].([]any)
		for i, e := range entries {
			entry, _ := e.(map[string]any)
			for _, name := range names {
				if _, ok := entry[name]; ok {
					return fmt.Errorf("--change %s: %s[%d].%s names another file; a change is one self-contained file (inline it)", path, field, i, name)
				}
			}
		}
	}
	return nil
}
