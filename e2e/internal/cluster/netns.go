package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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

// createNetns creates the cluster's network namespace with every cluster range on its loopback.
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
	for _, prefix := range []string{NodeNetwork.String(), ServiceNetwork.String(), PodNetwork.String(), ProcessPodNetwork.String()} {
		if err := ip("-n", Namespace, "addr", "add", prefix, "dev", "lo"); err != nil {
			return err
		}
	}
	return nil
}

// deleteNetns kills every process still in the namespace and removes it.
func deleteNetns() error {
	if _, err := os.Stat(netnsPath); err != nil {
		return nil
	}
	out, err := exec.Command("ip", "netns", "pids", Namespace).Output()
	if err == nil {
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
	return ip("netns", "del", Namespace)
}

// inNamespace prefixes argv so that it runs inside the cluster's network namespace.
func inNamespace(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", Namespace}, argv...)
}

// dialInNamespace opens a TCP connection from inside the namespace (the socket belongs to the
// namespace of the thread that creates it).
func dialInNamespace(address string) (net.Conn, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, err
	}
	defer own.Close()
	target, err := os.Open(netnsPath)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("enter %s: %w", Namespace, err)
	}
	conn, dialErr := net.Dial("tcp", address)
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		// This thread cannot go back: leave it locked so the runtime discards it.
		runtime.LockOSThread()
		return nil, fmt.Errorf("leave %s: %w", Namespace, err)
	}
	return conn, dialErr
}
