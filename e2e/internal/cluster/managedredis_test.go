package cluster

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"greeter-gitops/e2e/internal/images"
)

// The greeter's CA bundle keeps the image's Debian roots and makes the stand-in's certificate valid
// for the name prod's REDIS_HOST gives, and for no other.
func TestGreeterBundleTrustsTheManagedRedisStandInByName(t *testing.T) {
	l := Layout{Dir: t.TempDir()}
	if err := os.MkdirAll(l.PKI(""), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeManagedRedisPKI(l); err != nil {
		t.Fatal(err)
	}
	bundle, err := os.ReadFile(l.GreeterCABundle())
	if err != nil {
		t.Fatal(err)
	}
	if debian, err := os.ReadFile(images.CABundle); err == nil && len(bundle) <= len(debian) {
		t.Errorf("the greeter's bundle (%d bytes) does not hold Debian's (%d bytes) and the stand-in's CA", len(bundle), len(debian))
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	serving, err := os.ReadFile(l.PKI(managedRedis + ".crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(serving)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: ManagedRedisHost, KeyUsages: usage}); err != nil {
		t.Errorf("the stand-in's certificate for %s: %v", ManagedRedisHost, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "redis.example.internal", KeyUsages: usage}); err == nil {
		t.Error("the stand-in's certificate is valid for a name that is not prod's REDIS_HOST")
	}
}
