package runner

import (
	"context"
	"log"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reportStatus writes the pod status whenever a container changes, until the pod is stopped.
func (w *podWorker) reportStatus(ctx context.Context, done <-chan struct{}) {
	for {
		select {
		case <-w.dirty:
			w.writeStatus(ctx)
		case <-done:
			return
		case <-ctx.Done():
			return
		}
	}
}

// writeStatus sends the computed status (the kubelet's status manager: read the latest pod,
// replace what the kubelet owns, keep the rest, retry on conflict).
func (w *podWorker) writeStatus(ctx context.Context) {
	pods := w.r.client.CoreV1().Pods(w.pod.Namespace)
	for attempt := 0; attempt < 5; attempt++ {
		current, err := pods.Get(ctx, w.pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && current.UID != w.pod.UID {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Printf("pod %s/%s: read for status: %v", w.pod.Namespace, w.pod.Name, err)
			}
			return
		}
		desired := current.DeepCopy()
		w.fill(&desired.Status)
		if equality.Semantic.DeepEqual(current.Status, desired.Status) {
			return
		}
		_, err = pods.UpdateStatus(ctx, desired, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) {
			if err != nil && ctx.Err() == nil {
				log.Printf("pod %s/%s: status: %v", w.pod.Namespace, w.pod.Name, err)
			}
			return
		}
	}
}

// fill sets the fields of a pod status the kubelet owns from the containers' states.
func (w *podWorker) fill(status *corev1.PodStatus) {
	w.mu.Lock()
	initContainers, containers := w.init, w.containers
	initialized, pending, pod := w.initialized, w.volumesPending, w.pod
	w.mu.Unlock()

	if w.ip != "" {
		status.PodIP = w.ip
		status.PodIPs = []corev1.PodIP{{IP: w.ip}}
	}
	if w.node != nil {
		for _, address := range w.node.Status.Addresses {
			if address.Type == corev1.NodeInternalIP {
				status.HostIP = address.Address
				status.HostIPs = []corev1.HostIP{{IP: address.Address}}
			}
		}
	}
	if status.StartTime == nil {
		now := metav1.Now()
		status.StartTime = &now
	}
	status.InitContainerStatuses = statuses(initContainers)
	status.ContainerStatuses = statuses(containers)
	if pending != "" {
		for i := range status.ContainerStatuses {
			status.ContainerStatuses[i].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: "ContainerCreating", Message: pending,
			}}
		}
	}
	ready, running, finished, failed := len(containers) > 0, false, len(containers) > 0, false
	for _, s := range status.ContainerStatuses {
		ready = ready && s.Ready
		running = running || s.State.Running != nil || s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff"
		finished = finished && s.State.Terminated != nil
		failed = failed || s.State.Terminated != nil && s.State.Terminated.ExitCode != 0
	}
	switch {
	case finished && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways && !(failed && pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure):
		status.Phase = corev1.PodSucceeded
		if failed {
			status.Phase = corev1.PodFailed
		}
	case running:
		status.Phase = corev1.PodRunning
	default:
		status.Phase = corev1.PodPending
	}
	setCondition(status, corev1.PodReadyToStartContainers, pending == "")
	setCondition(status, corev1.PodInitialized, initialized)
	setCondition(status, corev1.ContainersReady, ready)
	setCondition(status, corev1.PodReady, ready)
}

func statuses(containers []*container) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, len(containers))
	for i, c := range containers {
		out[i] = c.status(c.spec.Image)
	}
	return out
}

// setCondition sets a condition's status, moving its transition time only when it changes.
func setCondition(status *corev1.PodStatus, kind corev1.PodConditionType, value bool) {
	want := corev1.ConditionFalse
	if value {
		want = corev1.ConditionTrue
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == kind {
			if status.Conditions[i].Status != want {
				status.Conditions[i].Status = want
				status.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now())
			}
			return
		}
	}
	status.Conditions = append(status.Conditions, corev1.PodCondition{
		Type: kind, Status: want, LastTransitionTime: metav1.NewTime(time.Now()),
	})
}
