package gameday

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadChangeRefusesWhatIsNotASelfContainedComponent(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ text, want string }{
		"a kustomization": {"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n", "want a Kustomize Component"},
		"not YAML":        {"kind: [", "not YAML"},
		"resources":       {component + "resources: [../../base]\n", "resources is not part of a change"},
		"a patch file":    {component + "patches:\n  - path: rollout.yaml\n", "patches[0].path names another file"},
		"an env file":     {component + "configMapGenerator:\n  - name: c\n    envs: [x.env]\n", "configMapGenerator[0].envs names another file"},
		"secrets":         {component + "secretGenerator:\n  - name: s\n", "secretGenerator is not part of a change"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readChange(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
	if _, err := readChange(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file: no error")
	}
}

func TestTheExampleChangesAreSelfContainedComponents(t *testing.T) {
	files, err := filepath.Glob("../../gamedays/changes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example changes: %v", err)
	}
	for _, file := range files {
		if _, err := readChange(file); err != nil {
			t.Error(err)
		}
	}
}

const component = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
