package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startDaemon starts a long-running process of the cluster in its own session (it outlives the
// command that started it), its output in the log, its PID recorded for stop.
func startDaemon(l Layout, name string, argv []string, env []string) error {
	for _, dir := range []string{filepath.Dir(l.Log(name)), l.PIDDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	logFile, err := os.OpenFile(l.Log(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	if err := cmd.Process.Release(); err != nil {
		return err
	}
	return os.WriteFile(l.PIDFile(name), []byte(strconv.Itoa(pid)), 0o644)
}

// running reports whether the process recorded for name is alive.
func running(l Layout, name string) bool {
	pid, err := readPID(l.PIDFile(name))
	return err == nil && syscall.Kill(pid, 0) == nil
}

func readPID(path string) (int, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(text)))
}

// stopDaemons stops every recorded process: SIGTERM, then SIGKILL after the grace period.
func stopDaemons(l Layout, grace time.Duration) error {
	entries, err := os.ReadDir(l.PIDDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var pids []int
	for _, entry := range entries {
		pid, err := readPID(filepath.Join(l.PIDDir(), entry.Name()))
		if err == nil && syscall.Kill(pid, syscall.SIGTERM) == nil {
			pids = append(pids, pid)
		}
	}
	killAfter(pids, grace)
	return nil
}

// killAfter waits up to grace for the processes to exit, then kills the rest.
func killAfter(pids []int, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// waitFor polls check until it succeeds or the timeout passes; the error names what never came up.
func waitFor(what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
