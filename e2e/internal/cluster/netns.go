package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"greeter-gitops/e2e/internal/runner"
)

// netnsPath is where `ip netns` keeps the namespace.
const netnsPath = "/var/run/netns/" + Namespace

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// createNetns creates the cluster's network namespace: the node network, Service ClusterIPs,
// kwok's simulated pod addresses and the managed-Redis stand-in's address on its loopback (local,
// nothing leaves), forwarding on for the pods the runner starts in network namespaces of their
// own (routed like a node routes them).
func createNetns() error {
	if _, err := os.Stat(netnsPath); err == nil {
		return nil
	}
	if err := ip("netns", "add", Namespace); err != nil {
		return err
	}
	if err := ip("-n", Namespace, "link", "set", "lo", "up"); err != nil {
		return err
	}
	for _, prefix := range []string{NodeNetwork.String(), ServiceNetwork.String(), PodNetwork.String(), runner.Gateway + "/32", ManagedRedisAddress.String() + "/32"} {
		if err := ip("-n", Namespace, "addr", "add", prefix, "dev", "lo"); err != nil {
			return err
		}
	}
	out, err := exec.Command("ip", "netns", "exec", Namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput()
	if err != nil {
		return fmt.Errorf("enable forwarding: %w: %s", err, out)
	}
	return nil
}

// deleteNetns kills every process still in the namespace (and in the pods' namespaces) and
// removes them.
func deleteNetns() error {
	if names, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(names), "\n") {
			if name, _, _ := strings.Cut(line, " "); strings.HasPrefix(name, runner.NetnsPrefix) {
				killNetns(name)
				_ = ip("netns", "del", name)
			}
		}
	}
	if _, err := os.Stat(netnsPath); err != nil {
		return nil
	}
	killNetns(Namespace)
	return ip("netns", "del", Namespace)
}

// killNetns stops every process in a network namespace.
func killNetns(name string) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	var pids []int
	for _, field := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(field, &pid); err == nil {
			_ = unix.Kill(pid, unix.SIGTERM)
			pids = append(pids, pid)
		}
	}
	killAfter(pids, 5*time.Second)
}

// inNamespace prefixes argv so that it runs inside the cluster's network namespace.
func inNamespace(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", Namespace}, argv...)
}

// DialInNamespace opens a connection from inside the cluster's network namespace. Its signature
// is http.Transport's DialContext, so a client on the host reaches Service and pod addresses as a
// node would.
func DialInNamespace(ctx context.Context, network, address string) (net.Conn, error) {
	var conn net.Conn
	err := inClusterNetwork(func() (err error) {
		var dialer net.Dialer
		conn, err = dialer.DialContext(ctx, network, address)
		return err
	}, func() {
		if conn != nil {
			_ = conn.Close()
		}
	})
	return conn, err
}

// ListenInNamespace listens inside the cluster's network namespace: pod processes reach it at
// that address, as they would a server on their node's network.
func ListenInNamespace(network, address string) (net.Listener, error) {
	var listener net.Listener
	err := inClusterNetwork(func() (err error) {
		listener, err = net.Listen(network, address)
		return err
	}, func() {
		if listener != nil {
			_ = listener.Close()
		}
	})
	return listener, err
}

// inClusterNetwork runs open on a thread inside the cluster's network namespace: a socket belongs
// to the namespace of the thread that creates it, and keeps it. undo releases what open made when
// the thread cannot leave the namespace again.
func inClusterNetwork(open func() error, undo func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return err
	}
	defer own.Close()
	target, err := os.Open(netnsPath)
	if err != nil {
		return fmt.Errorf("the test cluster's network namespace: %w (is the cluster up? scripts/cluster status)", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter %s: %w", Namespace, err)
	}
	openErr := open()
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		// This thread cannot go back: leave it locked so the runtime discards it.
		runtime.LockOSThread()
		undo()
		return fmt.Errorf("leave %s: %w", Namespace, err)
	}
	return openErr
}
