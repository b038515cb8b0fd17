"""Converts CustomResourceDefinitions into strict JSON schemas, one file per served or stored version,
in kubeconform's layout (crds/<group>/<kind>_<version>.json), for scripts/validate.

Usage: crd_schemas.py OUT_DIR CRD_FILE...   (a file may hold several YAML documents; non-CRDs are skipped)

Rules (what the API server does that a JSON schema must be told):
- every object schema with `properties` rejects unknown fields (additionalProperties: false) unless it
  keeps unknown fields (x-kubernetes-preserve-unknown-fields) or says otherwise itself; the root too,
  but not inside allOf/anyOf/oneOf/not branches (those only constrain, they do not define fields);
- the root requires apiVersion and kind with exactly this group/version and kind;
- `nullable: true` admits null; other fields reject an explicit null;
- `format: int-or-string` becomes oneOf string/integer;
- Go's case-insensitive regex flag `(?i)` (not ECMA-262) is rewritten to letter classes;
- upstream keywords are kept: x-kubernetes-validations (CEL) stay as inert annotations, JSON schema
  cannot evaluate them (the real API server in the cluster tests does).
"""
import json
import pathlib
import re
import sys

import yaml

BRANCHES = ("allOf", "anyOf", "oneOf", "not")


def both(c: str) -> str:
    return c.lower() + c.upper() if c.isascii() and c.isalpha() else c


def case_insensitive(pattern: str) -> str:
    """Rewrites Go's `(?i)` flag (until the end of its group) into letter classes: `(?i)ab` -> `[aA][bB]`."""
    if "(?i" not in pattern:
        return pattern
    out, flags, i = [], [False], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("(?i)", i):
            flags[-1] = True
            i += 4
            continue
        if pattern.startswith("(?i:", i):
            flags.append(True)
            out.append("(?:")
            i += 4
            continue
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "(":
            flags.append(flags[-1])
        elif c == ")":
            flags.pop()
        elif c == "[":
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            if flags[-1]:
                body = re.sub(r"([A-Za-z])-([A-Za-z])|([A-Za-z])", lambda m: (
                    f"{m[1].lower()}-{m[2].lower()}{m[1].upper()}-{m[2].upper()}" if m[1] else both(m[3])), body)
            out.append(f"[{body}]")
            i = end + 1
            continue
        elif flags[-1] and c.isascii() and c.isalpha():
            out.append(f"[{both(c)}]")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def convert(schema, structural=True):
    """A converted copy of one OpenAPI v3 schema node; `structural` is False inside branches.
    Upstream keywords are kept (JSON schema ignores the x-kubernetes-* ones); only additions."""
    if isinstance(schema, list):
        return [convert(item, structural) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: convert(sub, structural) for name, sub in value.items()}
        elif key in BRANCHES:
            out[key] = convert(value, structural=False)
        elif key == "pattern":
            out[key] = case_insensitive(value)
        elif key in ("items", "additionalProperties"):
            out[key] = convert(value, structural)
        else:
            out[key] = value
    if schema.get("format") == "int-or-string":
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = (out["type"] if isinstance(out["type"], list) else [out["type"]]) + ["null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
        if "anyOf" in out:
            out["anyOf"] = out["anyOf"] + [{"type": "null"}]
    if (
        structural
        and "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def version_schemas(crd):
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    for version in spec["versions"]:
        if not (version.get("served") or version.get("storage")):
            continue
        schema = convert(version["schema"]["openAPIV3Schema"])
        props = schema.setdefault("properties", {})
        for field, value in (("apiVersion", f"{group}/{version['name']}"), ("kind", kind)):
            props[field] = {**props.get(field, {}), "type": "string", "enum": [value]}
        schema["required"] = schema.get("required", []) + [
            field for field in ("apiVersion", "kind") if field not in schema.get("required", [])
        ]
        schema["additionalProperties"] = schema.pop("additionalProperties")  # after `required`
        schema["x-generated-from"] = {
            "crd": crd["metadata"]["name"],
            "version": version["name"],
            "served": bool(version.get("served")),
            "storage": bool(version.get("storage")),
            "deprecated": bool(version.get("deprecated")),
        }
        yield pathlib.Path(group) / f"{kind.lower()}_{version['name']}.json", schema


def main(out_dir, files):
    out_dir = pathlib.Path(out_dir)
    written = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # YAML 1.1's "value" tag makes a bare `=` (an operator enum value in some CRDs) unloadable.
    loader.add_constructor("tag:yaml.org,2002:value", yaml.constructor.SafeConstructor.construct_yaml_str)
    for file in files:
        for doc in yaml.load_all(pathlib.Path(file).read_text(), Loader=loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for relative, schema in version_schemas(doc):
                if relative in written and written[relative] != file:
                    sys.exit(f"{relative}: defined by both {written[relative]} and {file}")
                written[relative] = file
                path = out_dir / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(schema, indent=2) + "\n")
    if not written:
        sys.exit("no CustomResourceDefinition in the inputs")
    print(f"{len(written)} schemas from {len(files)} files", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
