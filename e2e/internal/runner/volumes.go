package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// file is one file of a volume: its path relative to the volume and content.
type file struct {
	path    string
	content []byte
	mode    os.FileMode
}

// missingError is a volume source that does not exist (yet): the kubelet keeps the pod in
// ContainerCreating and retries.
type missingError struct{ what string }

func (e missingError) Error() string { return e.what + " not found" }

// volumeFiles computes the files of a configMap, secret, projected or downwardAPI volume.
func volumeFiles(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, node *corev1.Node, volume corev1.Volume) ([]file, error) {
	switch {
	case volume.ConfigMap != nil:
		return configMapFiles(ctx, client, pod.Namespace, volume.ConfigMap.Name, volume.ConfigMap.Items,
			volume.ConfigMap.Optional, mode(volume.ConfigMap.DefaultMode))
	case volume.Secret != nil:
		return secretFiles(ctx, client, pod.Namespace, volume.Secret.SecretName, volume.Secret.Items,
			volume.Secret.Optional, mode(volume.Secret.DefaultMode))
	case volume.DownwardAPI != nil:
		return downwardFiles(pod, node, volume.DownwardAPI.Items, mode(volume.DownwardAPI.DefaultMode))
	case volume.Projected != nil:
		var all []file
		defaultMode := mode(volume.Projected.DefaultMode)
		for _, source := range volume.Projected.Sources {
			var files []file
			var err error
			switch {
			case source.ConfigMap != nil:
				files, err = configMapFiles(ctx, client, pod.Namespace, source.ConfigMap.Name, source.ConfigMap.Items, source.ConfigMap.Optional, defaultMode)
			case source.Secret != nil:
				files, err = secretFiles(ctx, client, pod.Namespace, source.Secret.Name, source.Secret.Items, source.Secret.Optional, defaultMode)
			case source.DownwardAPI != nil:
				files, err = downwardFiles(pod, node, source.DownwardAPI.Items, defaultMode)
			case source.ServiceAccountToken != nil:
				files, err = tokenFile(ctx, client, pod, source.ServiceAccountToken, defaultMode)
			}
			if err != nil {
				return nil, err
			}
			all = append(all, files...)
		}
		return all, nil
	}
	return nil, nil
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

func isTrue(b *bool) bool { return b != nil && *b }

// keyed turns a map of data into files, through items when given (only those keys, at their paths).
func keyed(data map[string][]byte, items []corev1.KeyToPath, optional bool, defaultMode os.FileMode, what string) ([]file, error) {
	var files []file
	if len(items) == 0 {
		for key, value := range data {
			files = append(files, file{path: key, content: value, mode: defaultMode})
		}
		return files, nil
	}
	for _, item := range items {
		value, ok := data[item.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, missingError{fmt.Sprintf("key %s of %s", item.Key, what)}
		}
		m := defaultMode
		if item.Mode != nil {
			m = os.FileMode(*item.Mode)
		}
		files = append(files, file{path: item.Path, content: value, mode: m})
	}
	return files, nil
}

func configMapFiles(ctx context.Context, client kubernetes.Interface, namespace, name string, items []corev1.KeyToPath, optional *bool, defaultMode os.FileMode) ([]file, error) {
	cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if isTrue(optional) {
			return nil, nil
		}
		return nil, missingError{"configmap " + name}
	}
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyed(data, items, isTrue(optional), defaultMode, "configmap "+name)
}

func secretFiles(ctx context.Context, client kubernetes.Interface, namespace, name string, items []corev1.KeyToPath, optional *bool, defaultMode os.FileMode) ([]file, error) {
	secret, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if isTrue(optional) {
			return nil, nil
		}
		return nil, missingError{"secret " + name}
	}
	if err != nil {
		return nil, err
	}
	return keyed(secret.Data, items, isTrue(optional), defaultMode, "secret "+name)
}

func downwardFiles(pod *corev1.Pod, node *corev1.Node, items []corev1.DownwardAPIVolumeFile, defaultMode os.FileMode) ([]file, error) {
	var files []file
	for _, item := range items {
		var value string
		switch {
		case item.FieldRef != nil:
			v, err := fieldValue(pod, item.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			value = v
		case item.ResourceFieldRef != nil:
			v, err := resourceValue(pod, node, item.ResourceFieldRef)
			if err != nil {
				return nil, err
			}
			value = v
		}
		m := defaultMode
		if item.Mode != nil {
			m = os.FileMode(*item.Mode)
		}
		files = append(files, file{path: item.Path, content: []byte(value), mode: m})
	}
	return files, nil
}

// tokenFile is a bound service-account token, as the kubelet requests it (TokenRequest bound to
// the pod, the audience asked for, the expiry asked for).
func tokenFile(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, source *corev1.ServiceAccountTokenProjection, defaultMode os.FileMode) ([]file, error) {
	request := &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: source.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}
	if source.Audience != "" {
		request.Spec.Audiences = []string{source.Audience}
	}
	account := pod.Spec.ServiceAccountName
	if account == "" {
		account = "default"
	}
	token, err := client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, account, request, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for service account %s: %w", account, err)
	}
	return []file{{path: source.Path, content: []byte(token.Status.Token), mode: defaultMode}}, nil
}

// writeAtomically lays files out as the kubelet's AtomicWriter does: a timestamped directory with
// the content, a `..data` symlink to it swapped in one rename, and a symlink per top-level entry
// through `..data`. A reader sees the old or the new set, never a mix. Returns whether anything
// changed.
func writeAtomically(dir string, files []file, gid int) (bool, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	if current, err := os.Readlink(filepath.Join(dir, "..data")); err == nil && sameContent(filepath.Join(dir, current), files) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	version := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.000000000")
	versionDir := filepath.Join(dir, version)
	// Even an empty volume has its version directory: readers stat `..data`.
	if err := os.MkdirAll(versionDir, 0o755); err != nil {
		return false, err
	}
	for _, f := range files {
		path := filepath.Join(versionDir, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(path, f.content, f.mode); err != nil {
			return false, err
		}
		if err := os.Chmod(path, f.mode); err != nil {
			return false, err
		}
		if gid >= 0 {
			if err := os.Chown(path, -1, gid); err != nil {
				return false, err
			}
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(version, tmpLink); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return false, err
	}
	for _, f := range files {
		top := strings.Split(f.path, "/")[0]
		link := filepath.Join(dir, top)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", top) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			return false, err
		}
	}
	if old != "" {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return true, nil
}

func sameContent(versionDir string, files []file) bool {
	count := 0
	err := filepath.Walk(versionDir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			count++
		}
		return err
	})
	if err != nil || count != len(files) {
		return false
	}
	for _, f := range files {
		content, err := os.ReadFile(filepath.Join(versionDir, f.path))
		if err != nil || !bytes.Equal(content, f.content) {
			return false
		}
	}
	return true
}

// fsGroup is the group volumes are owned by (-1: leave them root's).
func fsGroup(pod *corev1.Pod) int {
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		return int(*sc.FSGroup)
	}
	return -1
}
