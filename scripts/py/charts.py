"""The platform's Helm charts, fetched at their pinned versions and rendered exactly as Argo CD does.

Usage: charts.py list                          one JSON object per chart Application
       charts.py fetch APP                     path of the pinned chart archive (downloaded once)
       charts.py render APP [--values FILE]... [--api-versions FILE] [--kube-version V]
       charts.py render-batch [--jobs N]       many renders at once (JSON on stdin and stdout)

`render` runs `helm template` with the arguments Argo CD v3.5.1 builds (util/helm/cmd.go `template`,
reposerver/repository/repository.go `helmTemplate`): release name (helm.releaseName, else the
Application's name), destination namespace, --kube-version of the cluster, the value files in order
then the inline values, every API version of the cluster as --api-versions, --include-crds. --values
replaces the Application's own value files (for probes); --api-versions names a file with one
version per line.

`render-batch` is what the policy tests use: stdin holds a JSON array of requests
  {"application": <Application object>, "repoRoot": DIR, "apiVersions": [...],
   "valueFiles": [FILE...] or null (the Application's own), "keepOutput": bool}
and stdout gets one JSON result per request, in order:
  {"app": <as `list` prints it>, "ok": true, "digest": SHA256 of the output, "output": FILE or null}
  {"app": ..., "ok": false, "error": helm's message}
Renders run N at a time (default: one per CPU) and are cached in .cache/chart-renders by the hash of
everything helm reads (helm version, chart archive, arguments, value file contents), so a repeated
render costs nothing; entries unused for a week are removed.

Charts come from GREETER_CHARTS_MIRROR when that directory exists (an offline Helm repository:
index.yaml + archives; by default the shared/charts mirror beside this repository's folder), else
from the chart's own repository with `helm pull`, as Argo CD v3.5.1 pulls it: a Helm repository at an http(s) URL, or,
for a repoURL without a scheme (`ghcr.io/org/charts`, util/helm/client.go `IsHelmOciRepo`), the OCI
artifact oci://<repoURL>/<chart> (util/helm/cmd.go `PullOCI`). A source whose repoURL starts with
oci:// is not a Helm source to Argo CD (v1alpha1 `IsOCI` is checked before `IsHelm`) and is refused.
Archives are cached in .cache/charts.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.parse

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "charts"
RENDERS = ROOT / ".cache" / "chart-renders"
RENDER_CACHE_DAYS = 7
MIRROR = pathlib.Path(os.environ.get("GREETER_CHARTS_MIRROR", ROOT.parent / "shared" / "charts"))
# The fields of a chart source's `helm` block that `helm_template_args` turns into arguments.
MODELLED_HELM_FIELDS = {"releaseName", "valueFiles", "values", "valuesObject"}


class ChartError(Exception):
    pass


def die(message):
    sys.exit(f"error: {message}")


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise ChartError(f"{' '.join(map(str, args[:4]))} … failed:\n{result.stderr.strip()}")
    return result.stdout


def helm():
    return run([ROOT / "scripts" / "upstream", "bin", "helm"]).strip()


def chart_application(obj, repo_root):
    """What Argo CD renders for an Application with a Helm chart source (None without one); value
    files are `$ref/path` files of repo_root."""
    name = obj["metadata"]["name"]
    spec = obj["spec"]
    sources = spec.get("sources") or [spec.get("source")]
    charts = [s for s in sources if s and s.get("chart")]
    if not charts:
        return None
    if len(charts) > 1:
        raise ChartError(f"Application {name}: more than one chart source")
    (chart,) = charts
    if chart["repoURL"].startswith("oci://"):
        raise ChartError(
            f"Application {name}: repoURL {chart['repoURL']} is an OCI source to Argo CD v3.5.1, not a Helm chart "
            "source: write an OCI Helm repository without the scheme (e.g. ghcr.io/org/charts)"
        )
    refs = {s["ref"] for s in sources if s.get("ref")}
    helm_spec = chart.get("helm", {})
    unmodelled = sorted(set(helm_spec) - MODELLED_HELM_FIELDS)
    if unmodelled:
        raise ChartError(f"Application {name}: helm.{', helm.'.join(unmodelled)} not modelled by scripts/charts")
    value_files = []
    for value_file in helm_spec.get("valueFiles", []):
        ref, _, path = value_file.partition("/")
        if not ref.startswith("$") or ref[1:] not in refs:
            raise ChartError(f"Application {name}: value file {value_file} is not from a ref source")
        value_files.append(str(pathlib.Path(repo_root) / path))
    annotations = obj["metadata"].get("annotations") or {}
    return {
        "name": name,
        "wave": int(annotations.get("argocd.argoproj.io/sync-wave", "0")),
        "namespace": spec["destination"].get("namespace", ""),
        "repoURL": chart["repoURL"],
        "chart": chart["chart"],
        "version": chart["targetRevision"],
        "releaseName": helm_spec.get("releaseName") or name,
        "valueFiles": value_files,
        "inlineValues": helm_spec.get("valuesObject") or helm_spec.get("values"),
    }


def applications():
    """Every Application under argocd/ with a Helm chart source, as Argo CD will see it."""
    rendered = run(["kubectl", "kustomize", ROOT / "argocd"])
    apps = (chart_application(o, ROOT) for o in yaml.safe_load_all(rendered) if o and o.get("kind") == "Application")
    return [app for app in apps if app]


def application(name):
    for app in applications():
        if app["name"] == name:
            return app
    raise ChartError(f"no chart Application named {name}")


def is_helm_oci_repo(repo_url):
    """Argo CD v3.5.1 util/helm/client.go `IsHelmOciRepo`: a Helm repoURL that parses without a host
    (no scheme) names an OCI registry path."""
    return bool(repo_url) and not urllib.parse.urlparse(repo_url).netloc


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
            raise ChartError(f"{chart} {version} is not in the offline chart mirror {MIRROR} (GREETER_CHARTS_MIRROR)")
        source = MIRROR / entries[0]["urls"][0]
        partial = archive.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(source.read_bytes())
        partial.rename(archive)
        return archive
    if is_helm_oci_repo(repo):
        args = [helm(), "pull", f"oci://{repo.rstrip('/')}/{chart}", "--version", version]
    else:
        args = [helm(), "pull", chart, "--repo", repo, "--version", version]
    run(args + ["--destination", CACHE])
    if not archive.is_file():
        raise ChartError(f"helm pull did not produce {archive.name}")
    return archive


def kube_version():
    """The Kubernetes version the test cluster runs (tools/upstream/kubernetes), as Argo CD passes it."""
    return run([ROOT / "scripts" / "upstream", "version", "kubernetes"]).strip().lstrip("v")


def inline_values_file(app):
    """The Application's inline values as a file (content-addressed, so concurrent renders share it)."""
    inline = app["inlineValues"]
    if not inline:
        return None
    text = inline if isinstance(inline, str) else yaml.safe_dump(inline)
    path = CACHE / f"inline-values-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(text)
        partial.rename(path)
    return path


def helm_template_args(app, archive, kube, value_files, api_versions):
    """The `helm template` arguments Argo CD v3.5.1 builds (util/helm/cmd.go `template`): value files
    in order, then the inline values (ExtraValues), then every API version of the cluster."""
    args = ["template", str(archive), "--name-template", app["releaseName"]]
    if app["namespace"]:
        args += ["--namespace", app["namespace"]]
    args += ["--kube-version", kube]
    inline = inline_values_file(app)
    for value_file in [*value_files, *([inline] if inline else [])]:
        args += ["--values", str(value_file)]
    for api_version in api_versions:
        args += ["--api-versions", api_version]
    args.append("--include-crds")
    return args


def render(app, values=None, api_versions_file=None, version=None):
    api_versions = pathlib.Path(api_versions_file).read_text().split() if api_versions_file else []
    value_files = values if values is not None else app["valueFiles"]
    args = helm_template_args(app, fetch(app), version or kube_version(), value_files, api_versions)
    return run([helm(), *args])


def sha256_file(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def render_cache_key(helm_version, archive_digest, args):
    """Hash of everything helm reads: its version, the chart, the arguments with each --values file
    replaced by its contents' hash."""
    named = [sha256_file(a) if prev == "--values" else a for prev, a in zip(["", *args], args)]
    named[1] = archive_digest
    return hashlib.sha256(json.dumps([helm_version, named]).encode()).hexdigest()


def render_batch(requests, jobs):
    helm_bin = helm()
    helm_version = run([helm_bin, "version", "--short"]).strip()
    kube = kube_version()
    RENDERS.mkdir(parents=True, exist_ok=True)
    archives = {}  # (repo, chart, version) -> (path, digest), fetched once before rendering

    def prepare(request):
        app = chart_application(request["application"], request["repoRoot"])
        if app is None:
            raise ChartError(f"Application {request['application']['metadata']['name']} has no chart source")
        pin = (app["repoURL"], app["chart"], app["version"])
        if pin not in archives:
            archive = fetch(app)
            archives[pin] = (archive, sha256_file(archive))
        archive, digest = archives[pin]
        value_files = request.get("valueFiles")
        args = helm_template_args(
            app, archive, kube, app["valueFiles"] if value_files is None else value_files, request["apiVersions"]
        )
        return app, args, render_cache_key(helm_version, digest, args)

    def execute(key, args, keep_output):
        result_file, output_file = RENDERS / f"{key}.json", RENDERS / f"{key}.yaml"
        if result_file.is_file() and (not keep_output or output_file.is_file()):
            os.utime(result_file)
            if keep_output:
                os.utime(output_file)
            return json.loads(result_file.read_text())
        done = subprocess.run([helm_bin, *args], capture_output=True, text=True)
        if done.returncode == 0:
            result = {"ok": True, "digest": hashlib.sha256(done.stdout.encode()).hexdigest()}
            if keep_output:
                partial = output_file.with_suffix(f".{os.getpid()}-{key[:8]}.partial")
                partial.write_text(done.stdout)
                partial.rename(output_file)
        else:
            result = {"ok": False, "error": done.stderr.strip() or f"helm exited with {done.returncode}"}
            if done.returncode < 0:
                return result  # killed by a signal: nothing to remember
        partial = result_file.with_suffix(f".{os.getpid()}-{key[:8]}.partial")
        partial.write_text(json.dumps(result))
        partial.rename(result_file)
        return result

    results, pending = [None] * len(requests), {}
    for index, request in enumerate(requests):
        try:
            app, args, key = prepare(request)
        except (ChartError, KeyError, OSError) as error:
            results[index] = {"app": None, "ok": False, "error": f"{error}"}
            continue
        keep = bool(request.get("keepOutput"))
        results[index] = {"app": app}
        # The same render asked for twice runs once (keeping its output if either asks for it).
        entry = pending.setdefault(key, {"args": args, "keep": False, "indices": []})
        entry["keep"] |= keep
        entry["indices"].append(index)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {key: pool.submit(execute, key, e["args"], e["keep"]) for key, e in pending.items()}
        for key, entry in pending.items():
            result = futures[key].result()
            for index in entry["indices"]:
                output = RENDERS / f"{key}.yaml" if result["ok"] and entry["keep"] else None
                results[index].update(result, output=str(output) if output else None)
    prune_render_cache()
    return results


def prune_render_cache():
    cutoff = time.time() - RENDER_CACHE_DAYS * 86400
    for entry in RENDERS.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
        except FileNotFoundError:
            pass  # another batch removed it first


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
    batch_parser = sub.add_parser("render-batch")
    batch_parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    try:
        if args.command == "list":
            for app in applications():
                print(json.dumps(app))
        elif args.command == "fetch":
            print(fetch(application(args.app)))
        elif args.command == "render":
            sys.stdout.write(render(application(args.app), args.values, args.api_versions, args.kube_version))
        else:
            json.dump(render_batch(json.load(sys.stdin), max(1, args.jobs)), sys.stdout)
    except ChartError as error:
        die(error)


if __name__ == "__main__":
    main()
