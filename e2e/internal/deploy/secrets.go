package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecretsFromFakeStore stands in for External Secrets (its controller does not run in the test
// cluster): it creates the Secret greeter-secrets that the overlay's ExternalSecret would produce,
// with the values of the fake-dev ClusterSecretStore (argocd/platform/cluster-secret-stores.yaml)
// — for staging and prod too, whose Vault is not here. The namespace must exist.
func (e Environment) SecretsFromFakeStore(ctx context.Context) error {
	values, err := FakeStoreValues(ctx, e.Kubectl, e.Repo)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "greeter-secrets", Namespace: e.Namespace()}, StringData: values}
	_, err = e.Client.CoreV1().Secrets(e.Namespace()).Create(ctx, secret, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// FakeStoreValues are the greeter's secrets as the fake-dev ClusterSecretStore of argocd/platform
// (rendered with kubectl) gives them; the test cluster's managed-Redis stand-in takes its password
// from here too.
func FakeStoreValues(ctx context.Context, kubectl Kubectl, repo string) (map[string]string, error) {
	rendered, err := kubectl.Output(ctx, nil, "kustomize", filepath.Join(repo, "argocd", "platform"))
	if err != nil {
		return nil, err
	}
	docs, err := documents([]byte(rendered))
	if err != nil {
		return nil, err
	}
	return fakeStoreValues(docs)
}

// fakeStoreValues are the values under key greeter/dev of the fake-dev ClusterSecretStore.
func fakeStoreValues(docs []map[string]any) (map[string]string, error) {
	for _, doc := range docs {
		var store struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct {
				Provider struct {
					Fake struct {
						Data []struct{ Key, Value string }
					}
				}
			}
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &store); err != nil || store.Kind != "ClusterSecretStore" || store.Metadata.Name != "fake-dev" {
			continue
		}
		for _, entry := range store.Spec.Provider.Fake.Data {
			if entry.Key != "greeter/dev" {
				continue
			}
			var values map[string]string
			if err := json.Unmarshal([]byte(entry.Value), &values); err != nil {
				// The decoder's message may quote the value, a secret's content: leave it out.
				return nil, fmt.Errorf("the fake-dev ClusterSecretStore's greeter/dev is not a JSON object of strings")
			}
			if len(values) > 0 {
				return values, nil
			}
		}
	}
	return nil, fmt.Errorf("the fake-dev ClusterSecretStore has no key greeter/dev")
}
