package deploy

import "context"

// FieldManager is Argo CD's server-side apply field manager (argo-cd v3.5.1 common/common.go
// ArgoCDSSAManager).
const FieldManager = "argocd-controller"

// ApplyServerSide applies rendered manifests as Argo CD syncs them: server-side apply under its
// field manager, taking over fields another manager holds.
func (c *Cluster) ApplyServerSide(ctx context.Context, manifest []byte) error {
	_, err := c.Kubectl.Output(ctx, manifest, "apply", "--server-side", "--force-conflicts", "--field-manager="+FieldManager, "-f", "-")
	return err
}
