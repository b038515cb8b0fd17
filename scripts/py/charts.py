"""The platform's Helm charts, fetched at their pinned versions and rendered exactly as Argo CD does.

Usage: charts.py list                          one JSON object per chart Application
       charts.py fetch APP                     path of the pinned chart archive (downloaded once)
       charts.py render APP [--values FILE]... [--api-versions FILE] [--kube-version V]

`render` runs `helm template` with the arguments Argo CD v3.5.1 builds (util/helm/cmd.go `template`,
reposerver/repository/repository.go `helmTemplate`): release name (helm.releaseName, else the
Application's name), destination namespace, --kube-version of the cluster, the value files in order,
every API version of the cluster as --api-versions, --include-crds. --values replaces the
Application's own value files (for probes); --api-versions names a file with one version per line.

Charts come from GREETER_CHARTS_MIRROR when that directory exists (an offline Helm repository:
index.yaml + archives; default ../shared/charts beside the repository), else from the chart's own
repository (https or oci) with `helm pull`. Archives are cached in .cache/charts.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "charts"
MIRROR = pathlib.Path(os.environ.get("GREETER_CHARTS_MIRROR", ROOT.parent / "shared" / "charts"))


def die(message):
    sys.exit(f"error: {message}")


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        die(f"{' '.join(map(str, args[:4]))} … failed:\n{result.stderr.strip()}")
    return result.stdout


def helm():
    return run([ROOT / "scripts" / "upstream", "bin", "helm"]).strip()


def applications():
    """Every Application under argocd/ with a Helm chart source, as Argo CD will see it."""
    rendered = run(["kubectl", "kustomize", ROOT / "argocd"])
    apps = []
    for obj in yaml.safe_load_all(rendered):
        if not obj or obj.get("kind") != "Application":
            continue
        spec = obj["spec"]
        sources = spec.get("sources") or [spec.get("source")]
        charts = [s for s in sources if s and s.get("chart")]
        if not charts:
            continue
        (chart,) = charts
        refs = {s["ref"]: s for s in sources if s.get("ref")}
        helm_spec = chart.get("helm", {})
        value_files = []
        for value_file in helm_spec.get("valueFiles", []):
            ref, _, path = value_file.partition("/")
            if not ref.startswith("$") or ref[1:] not in refs:
                die(f"Application {obj['metadata']['name']}: value file {value_file} is not from a ref source")
            value_files.append(str(ROOT / path))
        annotations = obj["metadata"].get("annotations", {})
        apps.append(
            {
                "name": obj["metadata"]["name"],
                "wave": int(annotations.get("argocd.argoproj.io/sync-wave", "0")),
                "namespace": spec["destination"]["namespace"],
                "repoURL": chart["repoURL"],
                "chart": chart["chart"],
                "version": chart["targetRevision"],
                "releaseName": helm_spec.get("releaseName") or obj["metadata"]["name"],
                "valueFiles": value_files,
                "inlineValues": helm_spec.get("valuesObject") or helm_spec.get("values"),
            }
        )
    return apps


def application(name):
    for app in applications():
        if app["name"] == name:
            return app
    die(f"no chart Application named {name}")


def fetch(app):
    chart, version, repo = app["chart"], app["version"], app["repoURL"]
    archive = CACHE / f"{chart}-{version}.tgz"
    if archive.is_file():
        return archive
    CACHE.mkdir(parents=True, exist_ok=True)
    if MIRROR.is_dir():
        index = yaml.safe_load((MIRROR / "index.yaml").read_text())
        entries = [e for e in index.get("entries", {}).get(chart, []) if e["version"] == version]
        if not entries:
            die(f"{chart} {version} is not in the offline chart mirror {MIRROR} (GREETER_CHARTS_MIRROR)")
        source = MIRROR / entries[0]["urls"][0]
        archive.write_bytes(source.read_bytes())
        return archive
    if repo.startswith("oci://"):
        args = [helm(), "pull", f"{repo.rstrip('/')}/{chart}", "--version", version]
    else:
        args = [helm(), "pull", chart, "--repo", repo, "--version", version]
    run(args + ["--destination", CACHE])
    if not archive.is_file():
        die(f"helm pull did not produce {archive.name}")
    return archive


def kube_version():
    """The Kubernetes version the test cluster runs (tools/upstream/kubernetes), as Argo CD passes it."""
    return run([ROOT / "scripts" / "upstream", "version", "kubernetes"]).strip().lstrip("v")


def render(app, values=None, api_versions_file=None, version=None):
    args = [helm(), "template", fetch(app), "--name-template", app["releaseName"]]
    args += ["--namespace", app["namespace"], "--kube-version", version or kube_version()]
    for value_file in values if values is not None else app["valueFiles"]:
        args += ["--values", value_file]
    inline = app["inlineValues"]
    if inline and values is None:
        extra = CACHE / f"{app['name']}-inline-values.yaml"
        extra.write_text(inline if isinstance(inline, str) else yaml.safe_dump(inline))
        args += ["--values", extra]
    if api_versions_file:
        for line in pathlib.Path(api_versions_file).read_text().split():
            args += ["--api-versions", line]
    args.append("--include-crds")
    return run(args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    sub.add_parser("fetch").add_argument("app")
    render_parser = sub.add_parser("render")
    render_parser.add_argument("app")
    render_parser.add_argument("--values", action="append")
    render_parser.add_argument("--api-versions")
    render_parser.add_argument("--kube-version")
    args = parser.parse_args()
    if args.command == "list":
        for app in applications():
            print(json.dumps(app))
    elif args.command == "fetch":
        print(fetch(application(args.app)))
    else:
        sys.stdout.write(render(application(args.app), args.values, args.api_versions, args.kube_version))


if __name__ == "__main__":
    main()
