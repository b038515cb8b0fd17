package cluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"greeter-gitops/e2e/internal/images"
)

// The part of the platform the test cluster runs, in the order Argo CD's waves would sync it:
// every CRD the platform installs, then the charts whose controllers run here. The other charts'
// objects are checked with server-side dry runs by the tests (their controllers do not run).
var platformCharts = []string{"argo-rollouts", "kube-prometheus-stack"}

// chartNamespaces are created first, as the Applications' CreateNamespace does.
var chartNamespaces = map[string]string{"argo-rollouts": "argo-rollouts", "kube-prometheus-stack": "monitoring"}

// renderPlatform prepares the platform manifests on the host (fetching modules and charts may need
// the network, which the cluster's namespace does not have): every CRD, and each chart rendered
// exactly as Argo CD does (scripts/charts render). standIn points the Rollouts controller at the
// Gateway API plugin's stand-in (the test cluster); without it the controller downloads the
// pinned release (a cluster with a network).
func renderPlatform(l Layout, standIn bool) error {
	dir := l.Config("platform")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Every CRD the platform installs: the same sources scripts/crd-schemas converts.
	out, err := exec.Command(filepath.Join(l.Repo, "scripts", "upstream"), "crds", "--charts-into", dir).Output()
	if err != nil {
		return fmt.Errorf("scripts/upstream crds: %w", err)
	}
	var crds bytes.Buffer
	for _, file := range strings.Fields(string(out)) {
		text, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		only, err := filterDocs(text, func(doc map[string]any) bool { return doc["kind"] == "CustomResourceDefinition" })
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		crds.Write(only)
	}
	if err := os.WriteFile(filepath.Join(dir, "crds.yaml"), crds.Bytes(), 0o644); err != nil {
		return err
	}
	for _, chart := range platformCharts {
		rendered, err := renderChart(l, chart)
		if err != nil {
			return err
		}
		// Helm hooks are Argo CD sync hooks: here kube-prometheus-stack's certgen Jobs are stood in
		// for (admissionSecret, patchCABundles) and the charts' `helm test` pods are not run.
		rendered, err = filterDocs(rendered, func(doc map[string]any) bool {
			metadata, _ := doc["metadata"].(map[string]any)
			annotations, _ := metadata["annotations"].(map[string]any)
			_, hook := annotations["helm.sh/hook"]
			return !hook
		})
		if err != nil {
			return err
		}
		if chart == "argo-rollouts" && standIn {
			if rendered, err = standInTrafficRouter(l, rendered); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, chart+".yaml"), rendered, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func renderChart(l Layout, app string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(l.Repo, "scripts", "charts"), "render", app)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/charts render %s: %w: %s", app, err, stderr.String())
	}
	return out, nil
}

// standInTrafficRouter points the controller's Gateway API plugin at the stand-in the argo-rollouts
// image holds here (images.GatewayAPIStandIn), with its digest: the pinned release binary cannot be
// downloaded or built in the test cluster (e2e/gatewayapi-standin explains).
func standInTrafficRouter(l Layout, rendered []byte) ([]byte, error) {
	binary, err := os.ReadFile(l.Bin("gatewayapi-plugin-standin"))
	if err != nil {
		return nil, fmt.Errorf("the Gateway API plugin stand-in (built by scripts/cluster): %w", err)
	}
	digest := fmt.Sprintf("%x", sha256.Sum256(binary))
	replaced := false
	out, err := mapDocs(rendered, func(doc map[string]any) (map[string]any, error) {
		metadata, _ := doc["metadata"].(map[string]any)
		if doc["kind"] != "ConfigMap" || metadata["name"] != "argo-rollouts-config" {
			return doc, nil
		}
		data, _ := doc["data"].(map[string]any)
		text, _ := data["trafficRouterPlugins"].(string)
		var plugins []map[string]any
		if err := yaml.Unmarshal([]byte(text), &plugins); err != nil {
			return nil, err
		}
		for _, plugin := range plugins {
			if plugin["name"] == "argoproj-labs/gatewayAPI" {
				plugin["location"], plugin["sha256"] = "file://"+images.GatewayAPIStandIn, digest
				replaced = true
			}
		}
		encoded, err := yaml.Marshal(plugins)
		data["trafficRouterPlugins"] = string(encoded)
		return doc, err
	})
	if err == nil && !replaced {
		err = fmt.Errorf("argo-rollouts-config configures no argoproj-labs/gatewayAPI plugin")
	}
	return out, err
}

// filterDocs keeps the documents keep accepts.
func filterDocs(manifest []byte, keep func(map[string]any) bool) ([]byte, error) {
	return mapDocs(manifest, func(doc map[string]any) (map[string]any, error) {
		if keep(doc) {
			return doc, nil
		}
		return nil, nil
	})
}

// mapDocs rewrites every document of a manifest (nil drops it).
func mapDocs(manifest []byte, change func(map[string]any) (map[string]any, error)) ([]byte, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var out bytes.Buffer
	for {
		var doc map[string]any
		if err := decoder.Decode(&doc); err == io.EOF {
			return out.Bytes(), nil
		} else if err != nil {
			return nil, err
		}
		if doc == nil {
			continue
		}
		doc, err := change(doc)
		if err != nil || doc == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		text, err := yaml.Marshal(doc)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(text)
	}
}

// installPlatform applies what renderPlatform prepared, server-side as Argo CD does, and waits
// until the controllers run.
func installPlatform(l Layout) error {
	dir := l.Config("platform")
	if err := kubectlApply(l, filepath.Join(dir, "crds.yaml")); err != nil {
		return err
	}
	if out, err := exec.Command(l.Bin("kubectl"), "--kubeconfig", l.adminKubeconfig(), "wait",
		"--for=condition=Established", "--timeout=60s", "crd", "--all").CombinedOutput(); err != nil {
		return fmt.Errorf("CRDs not established: %w: %s", err, out)
	}
	client, err := adminClient(l)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, chart := range platformCharts {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: chartNamespaces[chart]}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	if err := admissionSecret(l); err != nil {
		return err
	}
	for _, chart := range platformCharts {
		if err := kubectlApply(l, filepath.Join(dir, chart+".yaml")); err != nil {
			return err
		}
	}
	if err := patchCABundles(l); err != nil {
		return err
	}
	return waitFor("platform controllers", 180*time.Second, func() error {
		for _, d := range []struct{ ns, name string }{
			{"argo-rollouts", "argo-rollouts"},
			{"monitoring", "kube-prometheus-stack-operator"},
			{"monitoring", "kube-prometheus-stack-kube-state-metrics"},
		} {
			deployment, err := client.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !available(deployment) {
				return fmt.Errorf("deployment %s/%s not available", d.ns, d.name)
			}
		}
		sts, err := client.AppsV1().StatefulSets("monitoring").Get(ctx, "prometheus-kube-prometheus-stack-prometheus", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if sts.Status.ReadyReplicas == 0 {
			return fmt.Errorf("no Prometheus pod Ready")
		}
		return nil
	})
}

func available(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return d.Status.ReadyReplicas > 0
		}
	}
	return false
}

func kubectlApply(l Layout, file string) error {
	out, err := exec.Command(l.Bin("kubectl"), "--kubeconfig", l.adminKubeconfig(), "apply", "--server-side",
		"--force-conflicts", "--field-manager=argocd-controller", "-f", file).CombinedOutput()
	if err != nil {
		return fmt.Errorf("apply %s: %w: %s", filepath.Base(file), err, out)
	}
	return nil
}

// admissionSecret stands in for kube-prometheus-stack's admission-webhook certgen Jobs (an image
// the runner does not run): the Secret kube-prometheus-stack-admission they create (keys ca, cert,
// key) for the operator's webhook Service; the Jobs' caBundle patch follows the apply (patchCABundles).
func admissionSecret(l Layout) error {
	client, err := adminClient(l)
	if err != nil {
		return err
	}
	ctx := context.Background()
	_, err = client.CoreV1().Secrets("monitoring").Get(ctx, admissionSecretName, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "kube-prometheus-stack-operator.monitoring.svc"},
		DNSNames:              []string{"kube-prometheus-stack-operator", "kube-prometheus-stack-operator.monitoring", "kube-prometheus-stack-operator.monitoring.svc"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return err
	}
	private, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: admissionSecretName, Namespace: "monitoring"},
		Data: map[string][]byte{
			"ca":   cert,
			"cert": cert,
			"key":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: private}),
		},
	}
	_, err = client.CoreV1().Secrets("monitoring").Create(ctx, secret, metav1.CreateOptions{})
	return err
}

const admissionSecretName = "kube-prometheus-stack-admission"

// InstallPlatformOn installs the same platform on a cluster this program did not start (kind on
// GitHub): the real Gateway API plugin, downloaded by the controller; state in l.Dir.
func InstallPlatformOn(l Layout) error {
	if err := renderPlatform(l, false); err != nil {
		return err
	}
	return installPlatform(l)
}

// patchCABundles is the certgen patch Job's work: the webhook configurations trust the CA of the
// admission Secret, so the operator's real webhook validates every PrometheusRule.
func patchCABundles(l Layout) error {
	client, err := adminClient(l)
	if err != nil {
		return err
	}
	ctx := context.Background()
	secret, err := client.CoreV1().Secrets("monitoring").Get(ctx, admissionSecretName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	ca := secret.Data["ca"]
	admission := client.AdmissionregistrationV1()
	validating, err := admission.ValidatingWebhookConfigurations().Get(ctx, admissionSecretName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for i := range validating.Webhooks {
		validating.Webhooks[i].ClientConfig.CABundle = ca
	}
	if _, err := admission.ValidatingWebhookConfigurations().Update(ctx, validating, metav1.UpdateOptions{}); err != nil {
		return err
	}
	mutating, err := admission.MutatingWebhookConfigurations().Get(ctx, admissionSecretName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for i := range mutating.Webhooks {
		mutating.Webhooks[i].ClientConfig.CABundle = ca
	}
	_, err = admission.MutatingWebhookConfigurations().Update(ctx, mutating, metav1.UpdateOptions{})
	return err
}
