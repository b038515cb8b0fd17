package runner

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"greeter-gitops/e2e/internal/images"
)

// podWorker plays the kubelet for one pod: materializes its volumes, runs its init containers then
// its containers, reports the pod status, and on deletion stops the processes within the grace
// period and removes the pod.
type podWorker struct {
	r       *Runner
	pod     *corev1.Pod
	node    *corev1.Node
	ip      string
	network podNetwork
	dir     string
	latest  chan *corev1.Pod

	mu             sync.Mutex
	init           []*container
	containers     []*container
	volumes        map[string]string
	initialized    bool
	volumesPending string
	dirty          chan struct{}
}

func (r *Runner) newPodWorker(pod *corev1.Pod) *podWorker {
	return &podWorker{
		r:      r,
		pod:    pod,
		dir:    filepath.Join(r.dir, "pods", string(pod.UID)),
		latest: make(chan *corev1.Pod, 1),
		dirty:  make(chan struct{}, 1),
	}
}

// update hands the worker the newest version of its pod.
func (w *podWorker) update(pod *corev1.Pod) {
	select {
	case <-w.latest:
	default:
	}
	w.latest <- pod
}

func (w *podWorker) notify() {
	select {
	case w.dirty <- struct{}{}:
	default:
	}
}

func (w *podWorker) run() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan struct{})
	go w.reportStatus(ctx, done)
	go func() {
		defer close(done)
		if err := w.start(ctx); err != nil && ctx.Err() == nil {
			log.Printf("pod %s/%s: %v", w.pod.Namespace, w.pod.Name, err)
		}
	}()
	for pod := range w.latest {
		w.mu.Lock()
		w.pod = pod
		w.mu.Unlock()
		if pod.DeletionTimestamp != nil {
			w.stop(stop, done, pod)
			return
		}
	}
}

// start prepares the sandbox and runs the containers.
func (w *podWorker) start(ctx context.Context) error {
	node, err := w.r.client.CoreV1().Nodes().Get(ctx, w.pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	w.node = node
	w.ip = w.r.ips.allocate(w.pod)
	w.network = newPodNetwork(w.pod.UID)
	if err := w.network.setUp(w.ip); err != nil {
		return err
	}
	grace := 30 * time.Second
	if g := w.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	w.mu.Lock()
	for i := range w.pod.Spec.InitContainers {
		w.init = append(w.init, newContainer(&w.pod.Spec.InitContainers[i], true, grace, w.notify))
	}
	for i := range w.pod.Spec.Containers {
		w.containers = append(w.containers, newContainer(&w.pod.Spec.Containers[i], false, grace, w.notify))
	}
	w.mu.Unlock()
	w.notify()
	for {
		err := w.prepareVolumes(ctx)
		if err == nil {
			break
		}
		var missing missingError
		if !errors.As(err, &missing) {
			log.Printf("pod %s/%s volumes: %v", w.pod.Namespace, w.pod.Name, err)
		}
		w.mu.Lock()
		w.volumesPending = err.Error()
		w.mu.Unlock()
		w.notify()
		if !sleep(ctx, 2*time.Second) {
			return ctx.Err()
		}
	}
	w.mu.Lock()
	w.volumesPending = ""
	w.mu.Unlock()
	go w.refreshVolumes(ctx)
	for _, c := range w.init {
		c.supervise(ctx, corev1.RestartPolicyOnFailure, w.launcher(c))
		if c.exitCodeOf() != 0 || ctx.Err() != nil {
			return ctx.Err()
		}
	}
	w.mu.Lock()
	w.initialized = true
	w.mu.Unlock()
	w.notify()
	var wg sync.WaitGroup
	for _, c := range w.containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.supervise(ctx, w.pod.Spec.RestartPolicy, w.launcher(c))
		}()
	}
	wg.Wait()
	return nil
}

// stop ends the pod: every process gets the deletion's grace period, then the pod is removed
// from the API (the kubelet's final delete).
func (w *podWorker) stop(cancel context.CancelFunc, done <-chan struct{}, pod *corev1.Pod) {
	grace := 30 * time.Second
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	w.mu.Lock()
	for _, c := range append(append([]*container{}, w.init...), w.containers...) {
		c.setGrace(grace)
	}
	w.mu.Unlock()
	cancel()
	<-done
	ctx := context.Background()
	w.writeStatus(ctx)
	zero := int64(0)
	err := w.r.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		log.Printf("pod %s/%s: final delete: %v", pod.Namespace, pod.Name, err)
	}
	w.network.tearDown()
	w.r.ips.release(pod.UID)
	_ = os.RemoveAll(w.dir)
	w.r.forget(pod.UID)
}

// prepareVolumes materializes every volume the containers can mount.
func (w *podWorker) prepareVolumes(ctx context.Context) error {
	volumes := map[string]string{}
	for _, volume := range w.pod.Spec.Volumes {
		dir := filepath.Join(w.dir, "volumes", volume.Name)
		switch {
		case volume.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return err
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return err
			}
		case volume.PersistentVolumeClaim != nil:
			path, err := w.r.claimPath(ctx, w.pod.Namespace, volume.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return err
			}
			dir = path
			if gid := fsGroup(w.pod); gid >= 0 {
				if err := os.Chown(dir, -1, gid); err != nil {
					return err
				}
				if err := os.Chmod(dir, 0o2775); err != nil {
					return err
				}
			}
		case volume.HostPath != nil:
			dir = volume.HostPath.Path
		default:
			files, err := volumeFiles(ctx, w.r.client, w.pod, w.node, volume)
			if err != nil {
				return fmt.Errorf("volume %s: %w", volume.Name, err)
			}
			if _, err := writeAtomically(dir, files, fsGroup(w.pod)); err != nil {
				return err
			}
		}
		volumes[volume.Name] = dir
	}
	w.mu.Lock()
	w.volumes = volumes
	w.mu.Unlock()
	return nil
}

// refreshVolumes rewrites API-backed volumes when their source changes, as the kubelet's periodic
// sync does (a rotated Secret reaches the mounted files without a restart).
func (w *podWorker) refreshVolumes(ctx context.Context) {
	for sleep(ctx, 5*time.Second) {
		for _, volume := range w.pod.Spec.Volumes {
			if volume.ConfigMap == nil && volume.Secret == nil && volume.Projected == nil && volume.DownwardAPI == nil {
				continue
			}
			files, err := volumeFiles(ctx, w.r.client, w.pod, w.node, volume)
			if err != nil {
				continue
			}
			_, _ = writeAtomically(filepath.Join(w.dir, "volumes", volume.Name), files, fsGroup(w.pod))
		}
	}
}

// launcher builds the start function of one container: its sandbox (image files, volumes, DNS,
// user) and its command.
func (w *podWorker) launcher(c *container) launch {
	return func(ctx context.Context) (*exec.Cmd, probeTarget, error) {
		image, known, err := images.Find(w.r.catalog, c.spec.Image)
		if err != nil {
			return nil, probeTarget{}, err
		}
		env, err := environment(ctx, w.r.client, w.pod, w.node, c.spec)
		if err != nil {
			return nil, probeTarget{}, err
		}
		env = append(append([]string{"HOSTNAME=" + w.pod.Name}, image.Env...), env...)
		argv := commandOf(image, known, c.spec, env)
		uid, gid, groups, err := identity(w.pod, c.spec, image.User)
		if err != nil {
			return nil, probeTarget{}, err
		}
		box := Sandbox{
			Dir:          filepath.Join(w.dir, "containers", c.spec.Name),
			NetNS:        w.network.Path(),
			Hostname:     w.pod.Name,
			ReadOnlyRoot: c.spec.SecurityContext != nil && isTrue(c.spec.SecurityContext.ReadOnlyRootFilesystem),
			UID:          uid, GID: gid, Groups: groups,
			WorkingDir: c.spec.WorkingDir,
			Argv:       argv,
			Env:        env,
		}
		if box.WorkingDir == "" {
			box.WorkingDir = image.WorkingDir
		}
		files, err := w.imageFiles(image)
		if err != nil {
			return nil, probeTarget{}, err
		}
		mounts, err := w.mounts(c.spec)
		if err != nil {
			return nil, probeTarget{}, err
		}
		box.Files, box.Mounts = files, mounts
		cmd, err := SandboxCommand(w.r.self, box)
		if err != nil {
			return nil, probeTarget{}, err
		}
		logFile, err := openLog(w.r.logPath(w.pod, c.spec.Name))
		if err != nil {
			return nil, probeTarget{}, err
		}
		defer logFile.Close()
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			return nil, probeTarget{}, err
		}
		return cmd, probeTarget{podIP: w.ip, container: c.spec, pid: cmd.Process.Pid, env: env, uid: uid, gid: gid}, nil
	}
}

// commandOf is the process's argv: the container's command replaces the image's entrypoint and
// its args replace the image's cmd (Docker's rules, which the kubelet follows); an image the
// runner does not know is a placeholder that only stays alive.
func commandOf(image images.Image, known bool, spec *corev1.Container, env []string) []string {
	if !known {
		return []string{"sleep", "infinity"}
	}
	entrypoint, args := image.Entrypoint, image.Cmd
	if len(spec.Command) > 0 {
		entrypoint, args = spec.Command, nil
	}
	if len(spec.Args) > 0 {
		args = spec.Args
	}
	return expandAll(append(append([]string{}, entrypoint...), args...), env)
}

// identity is the user, group and supplementary groups of a container: container settings over
// the pod's over the image's USER (whose group is its user's, as in the images here). Like the
// kubelet, it refuses to run as root when runAsNonRoot is set.
func identity(pod *corev1.Pod, spec *corev1.Container, imageUser int64) (uint32, uint32, []uint32, error) {
	uid, gid := imageUser, imageUser
	var groups []uint32
	var nonRoot bool
	if sc := pod.Spec.SecurityContext; sc != nil {
		nonRoot = isTrue(sc.RunAsNonRoot)
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
		if sc.FSGroup != nil {
			groups = append(groups, uint32(*sc.FSGroup))
		}
		for _, g := range sc.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
	}
	if sc := spec.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
	}
	if nonRoot && uid == 0 {
		return 0, 0, nil, fmt.Errorf("container has runAsNonRoot and image will run as root")
	}
	return uint32(uid), uint32(gid), groups, nil
}

// imageFiles are the image's own files, from where this machine has them.
func (w *podWorker) imageFiles(image images.Image) ([]Mount, error) {
	var files []Mount
	for target, source := range image.Files {
		path, err := w.r.hostPath(source)
		if err != nil {
			return nil, err
		}
		files = append(files, Mount{Source: path, Target: target})
	}
	return files, nil
}

// mounts are the container's bind mounts: the pod's DNS and hosts files and its volume mounts.
func (w *podWorker) mounts(spec *corev1.Container) ([]Mount, error) {
	mounts, err := w.podFiles()
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	volumes := w.volumes
	w.mu.Unlock()
	for _, vm := range spec.VolumeMounts {
		source, ok := volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %s: no volume %s", vm.MountPath, vm.Name)
		}
		if vm.SubPath != "" {
			// A file or directory of the volume; the kubelet creates a missing one as a directory
			// (group-writable for fsGroup).
			source = filepath.Join(source, vm.SubPath)
			if _, err := os.Stat(source); os.IsNotExist(err) {
				if err := os.MkdirAll(source, 0o775); err != nil {
					return nil, err
				}
				if gid := fsGroup(w.pod); gid >= 0 {
					if err := os.Chown(source, -1, gid); err != nil {
						return nil, err
					}
					if err := os.Chmod(source, 0o2775); err != nil {
						return nil, err
					}
				}
			}
		}
		mounts = append(mounts, Mount{Source: source, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	return mounts, nil
}

// podFiles writes the pod's resolv.conf (dnsPolicy ClusterFirst: the cluster DNS and the search
// path of its namespace) and hosts file, as the kubelet generates them.
func (w *podWorker) podFiles() ([]Mount, error) {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return nil, err
	}
	resolv := filepath.Join(w.dir, "resolv.conf")
	policy := w.pod.Spec.DNSPolicy
	if policy == "" || policy == corev1.DNSClusterFirst || policy == corev1.DNSClusterFirstWithHostNet {
		ns := w.pod.Namespace
		text := fmt.Sprintf("search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n",
			ns, w.r.domain, w.r.domain, w.r.domain, w.r.dnsServer)
		if err := os.WriteFile(resolv, []byte(text), 0o644); err != nil {
			return nil, err
		}
	} else if err := copyFile("/etc/resolv.conf", resolv); err != nil {
		return nil, err
	}
	hosts := filepath.Join(w.dir, "hosts")
	text := strings.Join([]string{
		"# Kubernetes-managed hosts file.",
		"127.0.0.1\tlocalhost",
		"::1\tlocalhost ip6-localhost ip6-loopback",
		w.ip + "\t" + w.pod.Name,
		"",
	}, "\n")
	if err := os.WriteFile(hosts, []byte(text), 0o644); err != nil {
		return nil, err
	}
	return []Mount{
		{Source: resolv, Target: "/etc/resolv.conf", ReadOnly: true},
		{Source: hosts, Target: "/etc/hosts", ReadOnly: true},
	}, nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}
