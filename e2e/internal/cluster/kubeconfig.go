package cluster

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
)

// insideServer is the API server's URL for processes inside the namespace.
func insideServer() string {
	return "https://" + netip.AddrPortFrom(APIServerAddress, APIServerPort).String()
}

// writeKubeconfig writes a kubeconfig for an identity of pki.go that reaches server.
func writeKubeconfig(l Layout, path, identityName, server string) error {
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: greeter-cluster
    cluster:
      server: %s
      certificate-authority: %s
users:
  - name: %s
    user:
      client-certificate: %s
      client-key: %s
contexts:
  - name: greeter-cluster
    context:
      cluster: greeter-cluster
      user: %s
current-context: greeter-cluster
`, server, l.PKI("ca.crt"), identityName, l.PKI(identityName+".crt"), l.PKI(identityName+".key"), identityName)
	return os.WriteFile(path, []byte(text), 0o600)
}

// componentKubeconfig is the kubeconfig a component uses inside the namespace.
func (l Layout) componentKubeconfig(identityName string) string {
	return l.Config("kubeconfig." + identityName)
}

// writeKubeconfigs writes one kubeconfig per identity for use inside the namespace, the
// administrator's inside one, and the administrator's host one through hostPort.
func writeKubeconfigs(l Layout, hostPort int) error {
	if err := os.MkdirAll(l.Config(""), 0o700); err != nil {
		return err
	}
	for _, id := range identities {
		if err := writeKubeconfig(l, l.componentKubeconfig(id.name), id.name, insideServer()); err != nil {
			return err
		}
	}
	if err := writeKubeconfig(l, l.InsideKubeconfig(), "admin", insideServer()); err != nil {
		return err
	}
	host := "https://127.0.0.1:" + strconv.Itoa(hostPort)
	return writeKubeconfig(l, l.Kubeconfig(), "admin", host)
}
