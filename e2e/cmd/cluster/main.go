// Command cluster runs the test cluster (see scripts/cluster and docs/testing.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"greeter-gitops/e2e/internal/cluster"
	"greeter-gitops/e2e/internal/runner"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cluster up|down|status|platform|gateway|up-inside|runner|sandbox [flags]")
		os.Exit(2)
	}
	repo := os.Getenv("GREETER_REPO")
	if repo == "" {
		repo = "."
	}
	repo, _ = filepath.Abs(repo)
	layout := cluster.NewLayout(repo)
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	zones := flags.Int("zones", cluster.DefaultTopology.Zones, "zones (topology.kubernetes.io/zone)")
	perZone := flags.Int("nodes-per-zone", cluster.DefaultTopology.NodesPerZone, "kwok nodes per zone")
	hostPort := flags.Int("host-port", cluster.DefaultHostPort, "loopback port on the host for the API server")
	listen := flags.String("listen", "", "gateway: host address to listen on")
	target := flags.String("target", "", "gateway: address inside the namespace")
	_ = flags.Parse(os.Args[2:])
	topology := cluster.Topology{Zones: *zones, NodesPerZone: *perZone}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	switch os.Args[1] {
	case "up":
		err = cluster.Up(layout, cluster.Options{Topology: topology, HostPort: *hostPort, Self: self})
		if err == nil {
			fmt.Println(cluster.ExportLine(layout))
		}
	case "up-inside":
		err = cluster.UpInside(layout, topology, self)
	case "runner":
		err = cluster.RunRunner(layout, self)
	case "sandbox":
		err = runner.EnterSandbox(flags.Arg(0))
	case "down":
		err = cluster.Down(layout)
	case "status":
		err = cluster.Status(layout)
	case "platform":
		// The platform on another cluster (kind on GitHub): KUBECONFIG names it.
		layout.External = os.Getenv("KUBECONFIG")
		if layout.External == "" {
			fail(fmt.Errorf("platform: set KUBECONFIG to the cluster to install the platform on"))
		}
		err = cluster.InstallPlatformOn(layout)
	case "gateway":
		err = cluster.ServeGateway(*listen, *target)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cluster:", err)
	os.Exit(1)
}
