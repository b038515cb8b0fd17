package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sandbox is how one container process sees the machine: the host's root file system as a
// copy-on-write overlay (so the image's files and mount points can be added without touching the
// host), with the pod's volumes, resolv.conf, hosts file and hostname, as a user.
type Sandbox struct {
	// Dir holds the overlay's upper, work and merged directories.
	Dir string
	// Files are the image's own content, placed in the container's writable layer (hard-linked
	// or copied): mount points under them then live in that layer, never in the source.
	Files []Mount
	// Mounts are bind mounts into the container's view, in order (a file or a directory).
	Mounts []Mount
	// NetNS is the pod's network namespace (shared by its containers).
	NetNS string
	// Hostname is the pod's hostname (its own UTS namespace).
	Hostname string
	// ReadOnlyRoot mounts the root read-only after the mounts (securityContext.readOnlyRootFilesystem).
	ReadOnlyRoot bool
	// UID, GID and Groups the process runs as.
	UID, GID uint32
	Groups   []uint32
	// WorkingDir inside the view.
	WorkingDir string
	// Argv and Env of the process; Argv[0] is resolved in the view's PATH when it has no slash.
	Argv []string
	Env  []string
}

// Mount is one bind mount.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// SandboxCommand is the argv that runs a sandbox: this program re-executed with the spec, in new
// mount and UTS namespaces; it then joins the pod's network namespace.
func SandboxCommand(self string, box Sandbox) (*exec.Cmd, error) {
	spec, err := json.Marshal(box)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "sandbox", string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS,
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd, nil
}

// EnterSandbox runs inside the new namespaces (the `sandbox` subcommand): it builds the view,
// drops to the user and replaces itself with the container's process.
func EnterSandbox(specJSON string) error {
	var box Sandbox
	if err := json.Unmarshal([]byte(specJSON), &box); err != nil {
		return err
	}
	// setns(CLONE_NEWNET) moves only the calling thread: the exec below must run on it.
	runtime.LockOSThread()
	if err := joinNetns(box.NetNS); err != nil {
		return err
	}
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	root := filepath.Join(box.Dir, "root")
	for _, dir := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(box.Dir, dir), 0o755); err != nil {
			return err
		}
	}
	for _, f := range box.Files {
		if err := placeFile(filepath.Join(box.Dir, "upper"), f); err != nil {
			return err
		}
	}
	overlay := fmt.Sprintf("lowerdir=/,upperdir=%s,workdir=%s", filepath.Join(box.Dir, "upper"), filepath.Join(box.Dir, "work"))
	if err := unix.Mount("overlay", root, "overlay", 0, overlay); err != nil {
		return fmt.Errorf("overlay root: %w", err)
	}
	// The kernel's and devices' views come from the host; /tmp and /run are the container's own.
	for _, dir := range []string{"proc", "sys", "dev"} {
		if err := unix.Mount("/"+dir, filepath.Join(root, dir), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind /%s: %w", dir, err)
		}
	}
	for _, dir := range []string{"tmp", "run"} {
		if err := unix.Mount("tmpfs", filepath.Join(root, dir), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
			return fmt.Errorf("tmpfs /%s: %w", dir, err)
		}
	}
	// Mount points are created and mounted after the chroot, so that links in their paths (Debian's
	// /var/run -> /run) resolve inside the container's root, never on the host: the sources are
	// opened first and mounted through /proc/self/fd.
	sources := make([]*os.File, len(box.Mounts))
	for i, m := range box.Mounts {
		f, err := os.OpenFile(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("mount %s: %w", m.Source, err)
		}
		sources[i] = f
	}
	if err := unix.Sethostname([]byte(box.Hostname)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	for i, m := range box.Mounts {
		if err := bindFrom(sources[i], m); err != nil {
			return err
		}
		_ = sources[i].Close()
	}
	workdir := box.WorkingDir
	if workdir == "" {
		workdir = "/"
	}
	// The runtime creates a missing working directory in the container's layer.
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return fmt.Errorf("working directory %s: %w", workdir, err)
	}
	if box.ReadOnlyRoot {
		if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	if err := os.Chdir(workdir); err != nil {
		return fmt.Errorf("working directory %s: %w", workdir, err)
	}
	path, err := lookPath(box.Argv[0], box.Env)
	if err != nil {
		return err
	}
	groups := make([]int, len(box.Groups))
	for i, g := range box.Groups {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	if err := unix.Setresgid(int(box.GID), int(box.GID), int(box.GID)); err != nil {
		return fmt.Errorf("gid %d: %w", box.GID, err)
	}
	if err := unix.Setresuid(int(box.UID), int(box.UID), int(box.UID)); err != nil {
		return fmt.Errorf("uid %d: %w", box.UID, err)
	}
	return syscall.Exec(path, box.Argv, box.Env)
}

// joinNetns moves the calling thread into the pod's network namespace.
func joinNetns(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pod network namespace: %w", err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter the pod network namespace: %w", err)
	}
	return nil
}

// placeFile puts an image file into the writable layer at its path as the host's own file system
// resolves it (on Debian /bin is a link to /usr/bin: the file goes to usr/bin, not into a new
// directory bin/ that would hide the host's /bin).
func placeFile(upper string, f Mount) error {
	parent, err := filepath.EvalSymlinks(filepath.Dir(f.Target))
	if err != nil {
		parent = filepath.Dir(f.Target)
	}
	target := filepath.Join(upper, parent, filepath.Base(f.Target))
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	info, err := os.Stat(f.Source)
	if err != nil {
		return fmt.Errorf("image file %s: %w", f.Source, err)
	}
	if !info.IsDir() {
		if os.Link(f.Source, target) == nil {
			return nil
		}
		return copyPath(f.Source, target)
	}
	return filepath.Walk(f.Source, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.Source, path)
		dest := filepath.Join(target, rel)
		if info.IsDir() {
			return os.MkdirAll(dest, 0o755)
		}
		return copyPath(path, dest)
	})
}

func copyPath(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	info, err := os.Stat(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, info.Mode().Perm())
}

// bindFrom bind-mounts an opened source at m.Target, creating the mount point in the overlay.
func bindFrom(source *os.File, m Mount) error {
	info, err := source.Stat()
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Source, err)
	}
	if info.IsDir() {
		err = os.MkdirAll(m.Target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(m.Target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(m.Target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", m.Target, err)
	}
	procPath := fmt.Sprintf("/proc/self/fd/%d", source.Fd())
	if err := unix.Mount(procPath, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", m.Target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", m.Target, err)
		}
	}
	return nil
}

// lookPath resolves a command name through the PATH of the container's environment, as the
// container runtime does (the default PATH when the image sets none).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if value, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = value
		}
	}
	for _, dir := range filepath.SplitList(path) {
		candidate := filepath.Join(dir, name)
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", errors.New(name + ": executable file not found in $PATH")
}
