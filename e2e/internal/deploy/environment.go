package deploy

// Names the overlays give the greeter's objects (deploy/base).
const (
	RolloutName   = "greeter"
	RouteName     = "greeter"
	StableService = "greeter-stable"
	CanaryService = "greeter-canary"
)

// Environment is one environment of the greeter on the cluster: deploy/overlays/NAME in namespace
// greeter-NAME.
type Environment struct {
	*Cluster
	Name string
}

// Environment picks an environment (dev, staging, prod).
func (c *Cluster) Environment(name string) Environment { return Environment{Cluster: c, Name: name} }

// Namespace is the environment's namespace.
func (e Environment) Namespace() string { return "greeter-" + e.Name }

// Overlay is the environment's overlay directory.
func (e Environment) Overlay() string { return e.Path("deploy", "overlays", e.Name) }
