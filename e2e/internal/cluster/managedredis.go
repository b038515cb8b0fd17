package cluster

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"greeter-gitops/e2e/internal/deploy"
	"greeter-gitops/e2e/internal/images"
)

// The managed Redis prod's overlay points at (deploy/overlays/prod: REDIS_HOST, REDIS_PORT,
// REDIS_TLS, REDIS_USERNAME). The cloud runs it outside the cluster; here Debian's redis-server
// stands in for it, started with the cluster because it belongs to the environment, not to a
// deploy: TLS only, a certificate for its name from a CA of its own (the public CA the real one's
// certificate chains to), the default user off and the ACL user the overlay names, with the
// password the secret store gives the greeter. Pods reach it by its name: CoreDNS answers it
// (addons.yaml, the private zone) with ManagedRedisAddress.
const (
	ManagedRedisHost = "greeter-prod.redis.example.internal"
	ManagedRedisPort = 6380
	ManagedRedisUser = "greeter"
	// managedRedis is the stand-in's daemon name (PID file, log).
	managedRedis = "managed-redis"
)

// writeManagedRedisPKI creates the stand-in's CA and serving certificate and the greeter image's
// CA bundle (Debian's bundle, as the image's, plus that CA), unless they exist.
func writeManagedRedisPKI(l Layout) error {
	if _, err := os.Stat(l.GreeterCABundle()); err == nil {
		return nil
	}
	ca, caKey, err := newCA(l, "managed-redis-ca", "greeter-test-public-ca")
	if err != nil {
		return err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: ManagedRedisHost},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{ManagedRedisHost},
	}
	if err := issue(l, managedRedis, serving, ca, caKey); err != nil {
		return err
	}
	bundle, err := os.ReadFile(images.CABundle)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(bundle) > 0 && !strings.HasSuffix(string(bundle), "\n") {
		bundle = append(bundle, '\n')
	}
	caPEM, err := os.ReadFile(l.PKI("managed-redis-ca.crt"))
	if err != nil {
		return err
	}
	return os.WriteFile(l.GreeterCABundle(), append(bundle, caPEM...), 0o644)
}

// startManagedRedis starts the stand-in inside the namespace and waits until a client that
// resolves its name through the cluster DNS and trusts the greeter image's CA bundle logs in as
// the ACL user: the whole path a prod pod takes.
func startManagedRedis(l Layout) error {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return errors.New("redis-server is not installed (scripts/setup installs it: apt-get install redis-server)")
	}
	password, err := managedRedisPassword(l)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.Data(managedRedis), 0o700); err != nil {
		return err
	}
	// The ACL holds the password's SHA-256, never the password; the file is root's alone.
	config := strings.Join([]string{
		"bind " + ManagedRedisAddress.String(),
		"port 0",
		"tls-port " + strconv.Itoa(ManagedRedisPort),
		"tls-cert-file " + l.PKI(managedRedis+".crt"),
		"tls-key-file " + l.PKI(managedRedis+".key"),
		"tls-auth-clients no",
		"dir " + l.Data(managedRedis),
		`save ""`,
		"appendonly no",
		"user default off",
		fmt.Sprintf("user %s on #%x ~* +@all -@dangerous", ManagedRedisUser, sha256.Sum256([]byte(password))),
		"",
	}, "\n")
	path := l.Config(managedRedis + ".conf")
	if err := os.MkdirAll(l.Config(""), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return err
	}
	if err := startDaemon(l, managedRedis, []string{server, path}, nil); err != nil {
		return err
	}
	return waitFor("the managed-Redis stand-in", 30*time.Second, func() error {
		if !running(l, managedRedis) {
			return fmt.Errorf("redis-server exited (see %s)", l.Log(managedRedis))
		}
		return loginToManagedRedis(l, password)
	})
}

// managedRedisPassword is REDIS_PASSWORD as the fake secret store gives it (deploy creates the
// greeter's Secret from the same values).
func managedRedisPassword(l Layout) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	values, err := deploy.FakeStoreValues(ctx, deploy.Kubectl{Path: l.Bin("kubectl")}, l.Repo)
	if err != nil {
		return "", err
	}
	password := values["REDIS_PASSWORD"]
	if password == "" {
		return "", errors.New("the fake-dev ClusterSecretStore's greeter/dev has no REDIS_PASSWORD for the managed-Redis stand-in")
	}
	return password, nil
}

// loginToManagedRedis does what the greeter's first connection does, from inside the namespace:
// resolve ManagedRedisHost through the cluster DNS, TLS with the greeter's CA bundle, AUTH as the
// ACL user, PING.
func loginToManagedRedis(l Layout, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, network, net.JoinHostPort(DNSServiceAddress.String(), "53"))
	}}
	addrs, err := resolver.LookupHost(ctx, ManagedRedisHost)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	if len(addrs) != 1 || addrs[0] != ManagedRedisAddress.String() {
		return fmt.Errorf("cluster DNS answers %s with %v, not %s (addons.yaml)", ManagedRedisHost, addrs, ManagedRedisAddress)
	}
	bundle, err := os.ReadFile(l.GreeterCABundle())
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		return fmt.Errorf("no certificate in %s", l.GreeterCABundle())
	}
	dialer := &tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: ManagedRedisHost, MinVersion: tls.VersionTLS12}}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(addrs[0], strconv.Itoa(ManagedRedisPort)))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(append(respCommand("AUTH", ManagedRedisUser, password), respCommand("PING")...)); err != nil {
		return err
	}
	reader := bufio.NewReader(conn)
	for _, want := range []string{"+OK", "+PONG"} {
		line, err := reader.ReadString('\n')
		if err != nil {
			return err
		}
		// An error reply names the failure (WRONGPASS, NOPERM), never the password.
		if got := strings.TrimSpace(line); got != want {
			return fmt.Errorf("managed-Redis stand-in answered %q, not %q", got, want)
		}
	}
	return nil
}

// respCommand encodes a command as a RESP array of bulk strings.
func respCommand(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, arg := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(arg), arg)
	}
	return []byte(b.String())
}
