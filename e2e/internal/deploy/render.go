package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Layer is what a temporary kustomization puts over an overlay without touching it, as a commit
// would: image overrides (a cluster that pulls images) and a Component (a release's change). The
// zero Layer renders the overlay itself.
type Layer struct {
	Images []Image `json:"images,omitempty"`
	// Component is a Kustomize Component (kind: Component) in one self-contained file.
	Component []byte `json:"-"`
}

// Image is a kustomize images entry.
type Image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
}

// Render renders the environment's overlay with a layer over it (kubectl kustomize, the kustomize
// Argo CD runs is the same v5 library).
func (e Environment) Render(ctx context.Context, layer Layer) ([]byte, error) {
	if len(layer.Images) == 0 && layer.Component == nil {
		out, err := e.Kubectl.Output(ctx, nil, "kustomize", e.Overlay())
		return []byte(out), err
	}
	dir, err := os.MkdirTemp("", "greeter-layer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// kustomize refuses an absolute path as a root ("new root cannot be absolute").
	overlay, err := filepath.Rel(dir, e.Overlay())
	if err != nil {
		return nil, err
	}
	kustomization := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{overlay},
	}
	if len(layer.Images) > 0 {
		kustomization["images"] = layer.Images
	}
	if layer.Component != nil {
		// A component is a directory holding its kustomization.yaml, never a file.
		if err := os.Mkdir(filepath.Join(dir, "change"), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "change", "kustomization.yaml"), layer.Component, 0o644); err != nil {
			return nil, err
		}
		kustomization["components"] = []string{"change"}
	}
	text, err := yaml.Marshal(kustomization)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), text, 0o644); err != nil {
		return nil, err
	}
	// The overlay lies outside the layer's directory.
	out, err := e.Kubectl.Output(ctx, nil, "kustomize", "--load-restrictor=LoadRestrictionsNone", dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %s with a layer: %w", e.Overlay(), err)
	}
	return []byte(out), nil
}
