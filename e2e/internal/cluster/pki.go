package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// identity is a client certificate the control plane accepts: the API server maps CN to the user
// and O to groups (x509 client-cert authentication), RBAC does the rest.
type identity struct {
	name   string
	user   string
	groups []string
}

// The identities of the cluster's components, each with only what its upstream RBAC grants.
var identities = []identity{
	{name: "admin", user: "kubernetes-admin", groups: []string{"system:masters"}},
	{name: "controller-manager", user: "system:kube-controller-manager"},
	{name: "scheduler", user: "system:kube-scheduler"},
	{name: "kube-proxy", user: "system:kube-proxy", groups: []string{"system:node-proxier"}},
	// kwok and the pod runner play the kubelets: they write node and pod status of every node.
	{name: "kwok", user: "system:kwok", groups: []string{"system:masters"}},
	{name: "runner", user: "system:pod-runner", groups: []string{"system:masters"}},
}

// writePKI creates the cluster CA, the API server's serving certificate, a client certificate per
// identity and the service-account signing key, unless they exist.
func writePKI(l Layout) error {
	if _, err := os.Stat(l.PKI("ca.crt")); err == nil {
		return nil
	}
	if err := os.MkdirAll(l.PKI(""), 0o700); err != nil {
		return err
	}
	ca, caKey, err := newCA(l, "ca", "greeter-cluster-ca")
	if err != nil {
		return err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc." + ClusterDomain,
		},
		IPAddresses: []net.IP{
			net.ParseIP("127.0.0.1"), net.IP(APIServerAddress.AsSlice()), net.IP(nthAddr(ServiceNetwork, 1).AsSlice()),
		},
	}
	if err := issue(l, "apiserver", serving, ca, caKey); err != nil {
		return err
	}
	for _, id := range identities {
		client := &x509.Certificate{
			Subject:     pkix.Name{CommonName: id.user, Organization: id.groups},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if err := issue(l, id.name, client, ca, caKey); err != nil {
			return err
		}
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	return writeKey(l, "sa", saKey)
}

// newCA creates a self-signed certificate authority and writes it as NAME.crt and NAME.key.
func newCA(l Layout, name, commonName string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return ca, key, writeKeyPair(l, name, der, key)
}

var serial int64 = 1

func issue(l Layout, name string, template, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial++
	template.SerialNumber = big.NewInt(serial)
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().AddDate(1, 0, 0)
	template.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", name, err)
	}
	return writeKeyPair(l, name, der, key)
}

func writeKeyPair(l Layout, name string, der []byte, key *ecdsa.PrivateKey) error {
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(l.PKI(name+".crt"), cert, 0o644); err != nil {
		return err
	}
	return writeKey(l, name, key)
}

// writeKey writes NAME.key (private, PKCS#8) and NAME.pub (public, PKIX).
func writeKey(l Layout, name string, key *ecdsa.PrivateKey) error {
	private, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	public, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.PKI(name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: private}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(l.PKI(name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: public}), 0o644)
}
