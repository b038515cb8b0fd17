package runner

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StorageClass is the cluster's default StorageClass, whose claims the runner provisions as
// directories on this machine (what a node-local provisioner does on a one-node cluster).
const (
	StorageClass = "standard"
	Provisioner  = "greeter-cluster.local/directory"
)

// provision creates a PersistentVolume for a claim of the default class that has none; the
// controller manager's PV controller binds them.
func (r *Runner) provision(ctx context.Context, claim *corev1.PersistentVolumeClaim) {
	if claim.Spec.VolumeName != "" || claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != StorageClass {
		return
	}
	name := "pvc-" + string(claim.UID)
	path := filepath.Join(r.dir, "volumes", name)
	if err := os.MkdirAll(path, 0o777); err != nil {
		log.Printf("provision %s/%s: %v", claim.Namespace, claim.Name, err)
		return
	}
	size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	hostPathType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": Provisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              StorageClass,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &hostPathType},
			},
		},
	}
	_, err := r.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		log.Printf("provision %s/%s: %v", claim.Namespace, claim.Name, err)
	}
}

// claimPath is the directory behind a bound claim.
func (r *Runner) claimPath(ctx context.Context, namespace, name string) (string, error) {
	claim, err := r.client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", missingError{"persistentvolumeclaim " + name}
	}
	if err != nil {
		return "", err
	}
	if claim.Spec.VolumeName == "" || claim.Status.Phase != corev1.ClaimBound {
		return "", missingError{"bound persistentvolumeclaim " + name}
	}
	pv, err := r.client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pv.Spec.HostPath == nil {
		return "", fmt.Errorf("persistentvolume %s is not a directory on this machine", pv.Name)
	}
	return pv.Spec.HostPath.Path, nil
}
