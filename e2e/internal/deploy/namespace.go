package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// namespaceTimeout bounds waiting for a namespace to go: its pods get their grace period (30 s).
const namespaceTimeout = 3 * time.Minute

// CreateNamespace creates the namespace as the overlay renders it (with its Pod Security labels),
// so that the stand-in Secret can exist before the overlay is applied; a namespace still
// terminating from an earlier run is waited out first.
func (e Environment) CreateNamespace(ctx context.Context) error {
	err := Poll(ctx, "namespace "+e.Namespace()+" gone from an earlier run", namespaceTimeout, func() error {
		ns, err := e.Client.CoreV1().Namespaces().Get(ctx, e.Namespace(), metav1.GetOptions{})
		if err == nil && ns.DeletionTimestamp != nil {
			return errors.New("still terminating")
		}
		return nil
	})
	if err != nil {
		return err
	}
	rendered, err := e.Render(ctx, Layer{})
	if err != nil {
		return err
	}
	docs, err := documents(rendered)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		if doc["kind"] != "Namespace" {
			continue
		}
		text, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		return e.ApplyServerSide(ctx, text)
	}
	return fmt.Errorf("overlay %s renders no Namespace", e.Name)
}

// DeleteNamespace deletes the environment's namespace and waits until it is gone.
func (e Environment) DeleteNamespace(ctx context.Context) error {
	err := e.Client.CoreV1().Namespaces().Delete(ctx, e.Namespace(), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return Poll(ctx, "namespace "+e.Namespace()+" deleted", namespaceTimeout, func() error {
		_, err := e.Client.CoreV1().Namespaces().Get(ctx, e.Namespace(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New("still terminating")
	})
}
