// Package dispatch receives what the Argo Rollouts controller sends GitHub when it aborts a
// canary (argocd/platform/values/argo-rollouts.yaml: a repository_dispatch `rollout-aborted`): a
// local stand-in for api.github.com inside the test cluster's network, where the controller runs.
// The notification's configuration is the chart's own; only the URL's host is this receiver, and
// the token is one the receiver made up.
package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"greeter-gitops/e2e/internal/cluster"
)

// The controller's notification settings (the argo-rollouts chart renders them from
// argocd/platform/values/argo-rollouts.yaml).
const (
	namespace        = "argo-rollouts"
	configMapName    = "argo-rollouts-notification-configmap"
	secretName       = "argo-rollouts-notification-secret"
	tokenKey         = "github-dispatch-token"
	githubServiceKey = "service.webhook.github"
	githubAPI        = "https://api.github.com"
)

// Request is one request the receiver got.
type Request struct {
	At            time.Time
	Method        string
	Path          string
	Authorization string
	Body          []byte
}

// Receiver is the stand-in for api.github.com.
type Receiver struct {
	// Token is the github-dispatch-token the controller was given.
	Token    string
	client   kubernetes.Interface
	server   *http.Server
	original string
	mu       sync.Mutex
	received []Request
	arrived  chan struct{}
}

// Start listens inside the cluster's network, points the controller's GitHub service at it and
// gives the controller a token. Stop undoes all of it.
func Start(ctx context.Context, client kubernetes.Interface) (*Receiver, error) {
	// Not 127.0.0.1: every pod, the controller's too, has a network namespace of its own.
	listener, err := cluster.ListenInNamespace("tcp", netip.AddrPortFrom(cluster.GitHubStandInAddress, 0).String())
	if err != nil {
		return nil, err
	}
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	r := &Receiver{Token: hex.EncodeToString(token), client: client, arrived: make(chan struct{}, 1)}
	r.server = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(listener) }()
	if err := r.configure(ctx, "http://"+listener.Addr().String()); err != nil {
		_ = r.server.Close()
		return nil, err
	}
	return r, nil
}

var githubURL = regexp.MustCompile(`(?m)^url: ` + regexp.QuoteMeta(githubAPI) + `/`)

// configure swaps api.github.com for the receiver in the GitHub service's URL (path, headers and
// templates stay as configured) and writes the token Secret, as External Secrets would.
func (r *Receiver) configure(ctx context.Context, base string) error {
	configMaps := r.client.CoreV1().ConfigMaps(namespace)
	notifications, err := configMaps.Get(ctx, configMapName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the controller's notification settings: %w", err)
	}
	r.original = notifications.Data[githubServiceKey]
	if !githubURL.MatchString(r.original) {
		return fmt.Errorf("%s %s: no `url: %s/...` to point at the receiver:\n%s", configMapName, githubServiceKey, githubAPI, r.original)
	}
	notifications.Data[githubServiceKey] = githubURL.ReplaceAllLiteralString(r.original, "url: "+base+"/")
	if _, err := configMaps.Update(ctx, notifications, metav1.UpdateOptions{}); err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: namespace},
		StringData: map[string]string{tokenKey: r.Token},
	}
	secrets := r.client.CoreV1().Secrets(namespace)
	_, err = secrets.Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
	}
	return err
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.received = append(r.received, Request{
		At: time.Now(), Method: req.Method, Path: req.URL.Path,
		Authorization: req.Header.Get("Authorization"), Body: body,
	})
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent) // what GitHub answers a repository_dispatch
}

// Await returns the first request, waiting at most timeout for it.
func (r *Receiver) Await(ctx context.Context, timeout time.Duration) (Request, error) {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		if len(r.received) > 0 {
			first := r.received[0]
			r.mu.Unlock()
			return first, nil
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return Request{}, ctx.Err()
		case <-deadline:
			return Request{}, fmt.Errorf("the controller sent no notification within %s", timeout)
		case <-r.arrived:
		}
	}
}

// Received is every request so far.
func (r *Receiver) Received() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.received...)
}

// Stop restores the controller's settings, deletes the token and stops listening.
func (r *Receiver) Stop(ctx context.Context) error {
	var errs []error
	if notifications, err := r.client.CoreV1().ConfigMaps(namespace).Get(ctx, configMapName, metav1.GetOptions{}); err != nil {
		errs = append(errs, err)
	} else {
		notifications.Data[githubServiceKey] = r.original
		_, err = r.client.CoreV1().ConfigMaps(namespace).Update(ctx, notifications, metav1.UpdateOptions{})
		errs = append(errs, err)
	}
	err := r.client.CoreV1().Secrets(namespace).Delete(ctx, secretName, metav1.DeleteOptions{})
	if !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	errs = append(errs, r.server.Close())
	return errors.Join(errs...)
}
