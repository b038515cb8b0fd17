package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// container supervises one container of a pod: starts its process, runs its probes, restarts it
// by the pod's restart policy with the kubelet's back-off, and keeps the state the pod status
// reports.
type container struct {
	spec   *corev1.Container
	init   bool
	notify func()
	// grace is how long a stopping process gets between SIGTERM and SIGKILL (the pod's
	// terminationGracePeriodSeconds, or the deletion's grace period).
	grace time.Duration

	mu             sync.Mutex
	process        *exec.Cmd
	startedAt      time.Time
	running        bool
	started        bool // startup probe passed (or none)
	ready          bool
	restarts       int32
	waitingReason  string
	waitingMessage string
	terminated     *corev1.ContainerStateTerminated
	lastTerminated *corev1.ContainerStateTerminated
	// done is closed when the container will not run again (stopped, or finished for good).
	done chan struct{}
	// exitCode of the last run, for init containers and restartPolicy Never/OnFailure.
	exitCode int
}

// Back-off between restarts: 10 s doubling to 5 min, reset after 10 min of running
// (pkg/kubelet/kubelet.go backOffPeriod, MaxContainerBackOff).
const (
	initialBackOff = 10 * time.Second
	maxBackOff     = 5 * time.Minute
	backOffReset   = 10 * time.Minute
)

func newContainer(spec *corev1.Container, init bool, grace time.Duration, notify func()) *container {
	return &container{spec: spec, init: init, grace: grace, notify: notify, waitingReason: "ContainerCreating", done: make(chan struct{})}
}

// setGrace changes the grace period before the pod's context ends (a deletion's own period).
func (c *container) setGrace(grace time.Duration) {
	c.mu.Lock()
	c.grace = grace
	c.mu.Unlock()
}

func (c *container) gracePeriod() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.grace
}

// launch prepares and starts one run of the process.
type launch func(ctx context.Context) (*exec.Cmd, probeTarget, error)

// supervise runs the container until ctx ends (the pod is deleted) or the restart policy says it
// is finished. Returns the exit code of the last run.
func (c *container) supervise(ctx context.Context, policy corev1.RestartPolicy, start launch) {
	defer close(c.done)
	backOff := initialBackOff
	for {
		cmd, target, err := start(ctx)
		if err != nil {
			c.setWaiting("CreateContainerError", err.Error())
			if !sleep(ctx, initialBackOff) {
				return
			}
			continue
		}
		c.mu.Lock()
		c.process, c.running, c.startedAt = cmd, true, time.Now()
		c.started = c.spec.StartupProbe == nil
		c.waitingReason, c.waitingMessage, c.terminated = "", "", nil
		c.mu.Unlock()
		c.notify()

		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		probeCtx, stopProbes := context.WithCancel(ctx)
		killed := make(chan string, 1)
		if !c.init {
			go c.probe(probeCtx, target, killed)
		}
		var reason, message string
		var waitErr error
		select {
		case waitErr = <-exited:
		case message = <-killed:
			reason = "Error"
			terminate(cmd, c.gracePeriod())
			waitErr = <-exited
		case <-ctx.Done():
			stopProbes()
			terminate(cmd, c.gracePeriod())
			c.recordExit(cmd, <-exited, "", "")
			return
		}
		stopProbes()
		ran := c.recordExit(cmd, waitErr, reason, message)
		code := c.exitCodeOf()
		if c.init && code == 0 || policy == corev1.RestartPolicyNever || policy == corev1.RestartPolicyOnFailure && code == 0 {
			return
		}
		if ran > backOffReset {
			backOff = initialBackOff
		}
		c.setWaiting("CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container %s", backOff, c.spec.Name))
		if !sleep(ctx, backOff) {
			return
		}
		backOff = min(backOff*2, maxBackOff)
		c.mu.Lock()
		c.restarts++
		c.mu.Unlock()
	}
}

// recordExit stores the terminated state of a run and returns how long it ran.
func (c *container) recordExit(cmd *exec.Cmd, waitErr error, reason, message string) time.Duration {
	code := 0
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
		if status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			code = 128 + int(status.Signal())
		}
	}
	if reason == "" {
		reason = "Completed"
		if code != 0 {
			reason = "Error"
		}
	}
	if waitErr != nil && cmd.ProcessState == nil {
		message = waitErr.Error()
	}
	c.mu.Lock()
	ran := time.Since(c.startedAt)
	c.running, c.ready, c.exitCode = false, false, code
	c.terminated = &corev1.ContainerStateTerminated{
		ExitCode:   int32(code),
		Reason:     reason,
		Message:    message,
		StartedAt:  metav1.NewTime(c.startedAt),
		FinishedAt: metav1.Now(),
	}
	c.lastTerminated = c.terminated
	c.mu.Unlock()
	c.notify()
	return ran
}

func (c *container) exitCodeOf() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exitCode
}

func (c *container) setWaiting(reason, message string) {
	c.mu.Lock()
	c.waitingReason, c.waitingMessage = reason, message
	c.mu.Unlock()
	c.notify()
}

// probe runs the startup probe until it passes, then liveness (failure kills the run through
// killed) and readiness, each on its own period.
func (c *container) probe(ctx context.Context, target probeTarget, killed chan<- string) {
	if p := c.spec.StartupProbe; p != nil {
		if !c.until(ctx, p, target) {
			killed <- "Startup probe failed"
			return
		}
		c.mu.Lock()
		c.started = true
		c.mu.Unlock()
		c.notify()
	}
	if p := c.spec.ReadinessProbe; p != nil {
		go c.watch(ctx, p, target, func(ok bool) {
			c.mu.Lock()
			changed := c.ready != ok
			c.ready = ok
			c.mu.Unlock()
			if changed {
				c.notify()
			}
		})
	} else {
		c.mu.Lock()
		c.ready = true
		c.mu.Unlock()
		c.notify()
	}
	if p := c.spec.LivenessProbe; p != nil {
		c.watch(ctx, p, target, func(ok bool) {
			if !ok {
				select {
				case killed <- "Liveness probe failed":
				default:
				}
			}
		})
	}
}

// until runs a probe until it succeeds (true) or fails failureThreshold times in a row (false).
func (c *container) until(ctx context.Context, p *corev1.Probe, target probeTarget) bool {
	if !sleep(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return false
	}
	failures := int32(0)
	for {
		ok, _ := runProbe(ctx, p, target)
		if ok {
			return true
		}
		failures++
		if failures >= max(p.FailureThreshold, 1) {
			return false
		}
		if !sleep(ctx, period(p)) {
			return false
		}
	}
}

// watch runs a probe every period and reports its state after successThreshold successes or
// failureThreshold failures in a row (the kubelet's worker semantics).
func (c *container) watch(ctx context.Context, p *corev1.Probe, target probeTarget, report func(bool)) {
	if !sleep(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return
	}
	successes, failures := int32(0), int32(0)
	for {
		ok, _ := runProbe(ctx, p, target)
		if ctx.Err() != nil {
			return
		}
		if ok {
			successes, failures = successes+1, 0
			if successes >= max(p.SuccessThreshold, 1) {
				report(true)
			}
		} else {
			successes, failures = 0, failures+1
			if failures >= max(p.FailureThreshold, 1) {
				report(false)
			}
		}
		if !sleep(ctx, period(p)) {
			return
		}
	}
}

func period(p *corev1.Probe) time.Duration {
	return time.Duration(max(p.PeriodSeconds, 1)) * time.Second
}

// terminate sends SIGTERM to the process group and SIGKILL after grace.
func terminate(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	go func() {
		time.Sleep(grace)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// status is the container's status as the kubelet reports it.
func (c *container) status(image string) corev1.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	started := c.running && c.started
	s := corev1.ContainerStatus{
		Name:         c.spec.Name,
		Image:        image,
		ImageID:      image,
		Ready:        c.running && c.ready && c.started,
		Started:      &started,
		RestartCount: c.restarts,
	}
	if c.process != nil && c.process.Process != nil {
		s.ContainerID = fmt.Sprintf("runner://%d", c.process.Process.Pid)
	}
	switch {
	case c.running:
		s.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt)}
	case c.waitingReason != "":
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waitingReason, Message: c.waitingMessage}
	case c.terminated != nil:
		s.State.Terminated = c.terminated
	}
	if c.lastTerminated != nil && (c.running || c.waitingReason != "") {
		s.LastTerminationState.Terminated = c.lastTerminated
	}
	return s
}

// openLog opens the container's log file (appending across restarts).
func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}
