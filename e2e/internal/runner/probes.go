package runner

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeTarget is what a probe needs of its container.
type probeTarget struct {
	podIP     string
	container *corev1.Container
	// pid of the container's process (exec probes run in its namespaces and root).
	pid int
	env []string
	uid uint32
	gid uint32
}

// runProbe performs one probe as the kubelet's prober does (pkg/probe): HTTP 200-399, a TCP
// connect, or an exec exit code 0, each within timeoutSeconds.
func runProbe(ctx context.Context, probe *corev1.Probe, target probeTarget) (bool, string) {
	timeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case probe.HTTPGet != nil:
		return httpProbe(ctx, probe.HTTPGet, target)
	case probe.TCPSocket != nil:
		port, err := resolvePort(probe.TCPSocket.Port, target.container)
		if err != nil {
			return false, err.Error()
		}
		host := probe.TCPSocket.Host
		if host == "" {
			host = target.podIP
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		_ = conn.Close()
		return true, ""
	case probe.Exec != nil:
		args := []string{"--target", strconv.Itoa(target.pid), "--mount", "--uts", "--net", "--root", "--wd",
			"--setuid", strconv.Itoa(int(target.uid)), "--setgid", strconv.Itoa(int(target.gid)), "--"}
		cmd := exec.CommandContext(ctx, "nsenter", append(args, probe.Exec.Command...)...)
		cmd.Env = target.env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return false, fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(out)))
		}
		return true, ""
	}
	return false, "unsupported probe (the runner handles httpGet, tcpSocket and exec)"
}

func httpProbe(ctx context.Context, get *corev1.HTTPGetAction, target probeTarget) (bool, string) {
	port, err := resolvePort(get.Port, target.container)
	if err != nil {
		return false, err.Error()
	}
	host := get.Host
	if host == "" {
		host = target.podIP
	}
	scheme := strings.ToLower(string(get.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := get.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path), nil)
	if err != nil {
		return false, err.Error()
	}
	request.Header.Set("User-Agent", "kube-probe/1.35")
	for _, header := range get.HTTPHeaders {
		request.Header.Set(header.Name, header.Value)
	}
	response, err := probeClient.Do(request)
	if err != nil {
		return false, err.Error()
	}
	_ = response.Body.Close()
	if response.StatusCode >= 200 && response.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", response.StatusCode)
}

// probeClient is the kubelet's prober client: no keep-alive, and HTTPS probes do not verify the
// certificate (pkg/probe/http: InsecureSkipVerify).
var probeClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // as the kubelet
}

// resolvePort resolves a port number or a container port's name.
func resolvePort(port intstr.IntOrString, container *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range container.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no port named %q in container %s", port.StrVal, container.Name)
}
