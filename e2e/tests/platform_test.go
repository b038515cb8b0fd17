package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"greeter-gitops/e2e/fixture"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Every platform chart, rendered exactly as Argo CD renders it, is accepted by the real API server
// (server-side dry run: most of their controllers do not run here; the API server still validates
// every object strictly against the built-in and installed CRD schemas, and admits or refuses it).
func TestEveryPlatformChartIsAdmitted(t *testing.T) {
	f := fixture.New(t)
	for _, app := range f.ChartApps() {
		t.Run(app.Name, func(t *testing.T) {
			for ns, objects := range fixture.ByNamespace(t, f.RenderChart(app.Name), app.Namespace) {
				namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
				if _, err := f.Client.CoreV1().Namespaces().Create(f.Ctx, namespace, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatal(err)
				}
				_, stderr, err := f.Run(objects, "apply", "--server-side", "--dry-run=server", "--force-conflicts",
					"--field-manager=argocd-controller", "-n", ns, "-f", "-")
				if err != nil {
					t.Errorf("%s %s refused by the API server in %s: %v\n%s", app.Chart, app.Version, ns, err, stderr)
				}
			}
		})
	}
}

// The CRDs installed from the pinned Go modules (tools/upstream) are the ones the platform's
// charts install: same versions, same schemas.
func TestInstalledCRDsAreTheChartsCRDs(t *testing.T) {
	f := fixture.New(t)
	compared := 0
	for _, app := range f.ChartApps() {
		for _, crd := range crdsOf(t, f.RenderChart(app.Name)) {
			installed, err := f.Dynamic.Resource(crdResource).Get(f.Ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("%s installs %s, which the test cluster does not have: %v", app.Name, crd.Name, err)
				continue
			}
			var got apiextensionsv1.CustomResourceDefinition
			raw, _ := json.Marshal(installed.Object)
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			for _, want := range crd.Spec.Versions {
				var match *apiextensionsv1.CustomResourceDefinitionVersion
				for i := range got.Spec.Versions {
					if got.Spec.Versions[i].Name == want.Name {
						match = &got.Spec.Versions[i]
					}
				}
				if match == nil || !reflect.DeepEqual(match.Schema, want.Schema) || match.Served != want.Served {
					t.Errorf("%s: %s version %s differs between the chart and tools/upstream", app.Name, crd.Name, want.Name)
				}
				compared++
			}
		}
	}
	if compared < 20 {
		t.Fatalf("compared only %d CRD versions: the charts rendered no CRDs?", compared)
	}
}

func crdsOf(t *testing.T, manifest []byte) []apiextensionsv1.CustomResourceDefinition {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var crds []apiextensionsv1.CustomResourceDefinition
	for {
		var raw map[string]any
		if err := decoder.Decode(&raw); err == io.EOF {
			return crds
		} else if err != nil {
			t.Fatal(err)
		}
		if raw["kind"] != "CustomResourceDefinition" {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		text, _ := json.Marshal(raw)
		if err := json.Unmarshal(text, &crd); err != nil {
			t.Fatal(err)
		}
		crds = append(crds, crd)
	}
}
