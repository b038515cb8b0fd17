// Package images says which container images the pod runner can run for real, and how: the
// files the image would hold (the binary built from the pinned upstream module, or from this
// checkout for the greeter, with its config and CA bundle), its ENTRYPOINT, WORKDIR and
// environment, read from each project's own Dockerfile at the pinned version. Pods of any other
// image stay simulated by kwok.
package images

import (
	"fmt"
	"regexp"
	"strings"
)

// Image is what the runner needs to start a container of one repository.
type Image struct {
	// Repository without tag or digest.
	Repository string
	// Files maps a path inside the pod to where the runner finds it on the host, by Source.
	Files map[string]Source
	// Entrypoint and Cmd as the image declares them (used when the container sets no command/args).
	Entrypoint []string
	Cmd        []string
	// WorkingDir is the image's WORKDIR.
	WorkingDir string
	// Env is the image's ENV.
	Env []string
	// Version is the tag the binary was built for ("" for the greeter, built from this checkout);
	// a pod asking for another version is refused, not run with the wrong binary.
	Version string
	// User is the image's USER (numeric), used when the pod does not set runAsUser.
	User int64
	// StandIn says where the process is not the image's own binary.
	StandIn string
}

// Source locates a file the image holds on the host.
type Source struct {
	// Bin names a binary of the build cache's bin directory: tools/upstream's (scripts/upstream
	// bin NAME) or a stand-in scripts/cluster builds there.
	Bin string
	// Repo is a path relative to the repository root (this checkout's build or files).
	Repo string
	// Host is an absolute path of this machine (Debian's packages, files the test cluster writes).
	Host string
}

// GatewayAPIStandIn is where the argo-rollouts image of the test cluster holds the Gateway API
// plugin's stand-in.
const GatewayAPIStandIn = "/home/argo-rollouts/standins/gatewayapi-plugin"

// CABundle is where the greeter's base image (distroless cc-debian12) holds Debian's CA bundle: the
// first file openssl-probe 0.2 finds, which rustls-native-certs 0.8 loads for the greeter's Redis
// TLS (redis 1.x without tls-rustls-webpki-roots, tls_params None).
const CABundle = "/etc/ssl/certs/ca-certificates.crt"

// Catalog is every image the runner runs, at the versions tools/upstream pins. caBundle is the
// file the runner places at CABundle in the greeter's containers: the Debian bundle plus the CA
// of the test cluster's managed-Redis stand-in, as the real bundle holds the public CA that signs
// the managed Redis's certificate.
func Catalog(versions func(component string) string, caBundle string) []Image {
	return []Image{
		{
			// service/Dockerfile: the runtime stage.
			Repository: "ghcr.io/greeter-gitops/greeter",
			Files: map[string]Source{
				"/usr/local/bin/greeter": {Repo: "target/debug/greeter"},
				"/etc/greeter":           {Repo: "service/config"},
				CABundle:                 {Host: caBundle},
			},
			Entrypoint: []string{"/usr/local/bin/greeter"},
			Env:        []string{"CONFIG_DIR=/etc/greeter"},
			User:       65532,
		},
		{
			// docker-library/redis: ENTRYPOINT docker-entrypoint.sh, CMD redis-server.
			Repository: "docker.io/library/redis",
			Entrypoint: []string{"redis-server"},
			User:       999,
			StandIn:    "Debian's redis-server (the image's docker-entrypoint.sh only drops privileges and execs it)",
		},
		{
			// argo-rollouts Dockerfile: ENTRYPOINT /bin/rollouts-controller, WORKDIR /home/argo-rollouts,
			// USER 999. Plus the Gateway API plugin's stand-in (e2e/gatewayapi-standin), which the
			// test cluster's controller configuration points at instead of the release download.
			Repository: "quay.io/argoproj/argo-rollouts",
			Files: map[string]Source{
				"/bin/rollouts-controller": {Bin: "rollouts-controller"},
				GatewayAPIStandIn:          {Bin: "gatewayapi-plugin-standin"},
			},
			Entrypoint: []string{"/bin/rollouts-controller"},
			WorkingDir: "/home/argo-rollouts",
			User:       999,
			Version:    versions("argo-rollouts"),
		},
		{
			// prometheus-operator Dockerfile: ENTRYPOINT /bin/operator.
			Repository: "quay.io/prometheus-operator/prometheus-operator",
			Files:      map[string]Source{"/bin/operator": {Bin: "prometheus-operator"}},
			Entrypoint: []string{"/bin/operator"},
			User:       65534,
			Version:    versions("prometheus-operator"),
		},
		{
			// cmd/prometheus-config-reloader/Dockerfile: ENTRYPOINT /bin/prometheus-config-reloader.
			Repository: "quay.io/prometheus-operator/prometheus-config-reloader",
			Files:      map[string]Source{"/bin/prometheus-config-reloader": {Bin: "prometheus-config-reloader"}},
			Entrypoint: []string{"/bin/prometheus-config-reloader"},
			User:       65534,
			Version:    versions("prometheus-operator"),
		},
		{
			// prometheus Dockerfile: ENTRYPOINT /bin/prometheus, WORKDIR /prometheus.
			Repository: "quay.io/prometheus/prometheus",
			Files:      map[string]Source{"/bin/prometheus": {Bin: "prometheus"}},
			Entrypoint: []string{"/bin/prometheus"},
			WorkingDir: "/prometheus",
			User:       65534,
			Version:    versions("prometheus"),
		},
		{
			// kube-state-metrics Dockerfile: ENTRYPOINT /kube-state-metrics --port=8080 --telemetry-port=8081.
			Repository: "registry.k8s.io/kube-state-metrics/kube-state-metrics",
			Files:      map[string]Source{"/kube-state-metrics": {Bin: "kube-state-metrics"}},
			Entrypoint: []string{"/kube-state-metrics", "--port=8080", "--telemetry-port=8081"},
			User:       65534,
			Version:    versions("kube-state-metrics"),
		},
		{
			// coredns Dockerfile: ENTRYPOINT /coredns.
			Repository: "registry.k8s.io/coredns/coredns",
			Files:      map[string]Source{"/coredns": {Bin: "coredns"}},
			Entrypoint: []string{"/coredns"},
			User:       65532,
			Version:    versions("coredns"),
		},
	}
}

// Pattern matches a container image of any repository the runner runs (kwok's stage selector).
func Pattern() string {
	catalog := Catalog(func(string) string { return "" }, "")
	quoted := make([]string, len(catalog))
	for i, entry := range catalog {
		quoted[i] = regexp.QuoteMeta(entry.Repository)
	}
	return "^(" + strings.Join(quoted, "|") + ")([:@]|$)"
}

// Reference is an image reference split into repository, tag and digest.
type Reference struct {
	Repository, Tag, Digest string
}

// Parse splits an image reference; a repository without a registry is Docker Hub's, as the
// container runtime resolves it.
func Parse(image string) Reference {
	var ref Reference
	rest := image
	if at := strings.Index(rest, "@"); at >= 0 {
		ref.Digest, rest = rest[at+1:], rest[:at]
	}
	if colon := strings.LastIndex(rest, ":"); colon > strings.LastIndex(rest, "/") {
		ref.Tag, rest = rest[colon+1:], rest[:colon]
	}
	if !strings.Contains(strings.Split(rest, "/")[0], ".") {
		if !strings.Contains(rest, "/") {
			rest = "library/" + rest
		}
		rest = "docker.io/" + rest
	}
	ref.Repository = rest
	return ref
}

// Find returns the catalog entry for an image reference, or an error for a known repository at
// a version that is not the one built.
func Find(catalog []Image, image string) (Image, bool, error) {
	ref := Parse(image)
	for _, entry := range catalog {
		if entry.Repository != ref.Repository {
			continue
		}
		if entry.Version != "" && ref.Tag != "" && !strings.HasPrefix(ref.Tag+"-", entry.Version+"-") {
			return entry, true, fmt.Errorf("image %s: tools/upstream builds %s", image, entry.Version)
		}
		return entry, true, nil
	}
	return Image{}, false, nil
}
