"""Helper for tests/tests/deploy, run with the test venv's Python (PyYAML and
openapi-spec-validator come with moto[server]; cfn-lint too).

  yaml_tool.py json FILE        print FILE (YAML, CloudFormation tags allowed) as JSON
  yaml_tool.py openapi FILE     validate FILE as an OpenAPI document (exit 1 with the reason)
  yaml_tool.py examples FILE    check every example of the OpenAPI document FILE against its schema
  yaml_tool.py responses FILE   check responses (a JSON list on stdin: path, method, status,
                                body) against the OpenAPI document FILE
  yaml_tool.py toml FILE        print FILE (TOML) as JSON
  yaml_tool.py iam-actions SVC  print the IAM actions cfn-lint knows for each service, as JSON

CloudFormation short tags become their long JSON form (!Ref x -> {"Ref": "x"},
!GetAtt a.b -> {"Fn::GetAtt": ["a", "b"]}, !Sub s -> {"Fn::Sub": s}, ...), so the Rust side
sees exactly what CloudFormation would.
"""

import json
import sys

import yaml


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {"Fn::" + suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


def _pointer(parts):
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(doc, parts):
    """A JSON Schema 2020-12 validator for the schema at `parts` of the document, with its
    $refs resolved inside the document."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:openapi", Resource(doc, specification=DRAFT202012))
    return Draft202012Validator({"$ref": "urn:openapi#" + _pointer(parts)}, registry=registry)


def _media_types(doc):
    """Every (location, parts of the media type object) with a schema."""
    def from_content(where, node, parts):
        for mt, media in (node.get("content") or {}).items():
            if "schema" in media:
                yield where + " " + mt, parts + ["content", mt]

    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            rb = op.get("requestBody")
            if rb and "$ref" not in rb:
                yield from from_content(f"{method.upper()} {path} request", rb, ["paths", path, method, "requestBody"])
            for status, resp in op["responses"].items():
                if "$ref" not in resp:
                    yield from from_content(f"{method.upper()} {path} {status}", resp, ["paths", path, method, "responses", status])
    for name, resp in doc.get("components", {}).get("responses", {}).items():
        yield from from_content(f"components/responses/{name}", resp, ["components", "responses", name])


def _node(doc, parts):
    for p in parts:
        doc = doc[p]
    return doc


def check_examples(doc):
    problems, count = [], 0
    for where, parts in _media_types(doc):
        media = _node(doc, parts)
        v = _validator(doc, parts + ["schema"])
        samples = []
        if "example" in media:
            samples.append(("example", media["example"]))
        for name, ex in (media.get("examples") or {}).items():
            samples.append((name, ex.get("value")))
        if not samples:
            problems.append(f"{where}: no example")
        for name, value in samples:
            count += 1
            for e in v.iter_errors(value):
                problems.append(f"{where} ({name}): {e.message} at {list(e.absolute_path)}")
    return problems, count


def check_responses(doc, responses):
    problems = []
    for r in responses:
        where = f"{r['method'].upper()} {r['path']} {r['status']}"
        if r["path"] == "$default":
            # Any other path or method: an ErrorEnvelope (events.rs checks the exact body).
            parts = ["components", "schemas", "ErrorEnvelope"]
        else:
            op = doc["paths"].get(r["path"], {}).get(r["method"])
            if op is None:
                problems.append(f"{where}: no such operation")
                continue
            resp = op["responses"].get(str(r["status"]))
            if resp is None:
                problems.append(f"{where}: status not documented")
                continue
            parts = ["paths", r["path"], r["method"], "responses", str(r["status"])]
            if "$ref" in resp:
                parts = ["components", "responses", resp["$ref"].rsplit("/", 1)[1]]
            parts += ["content", "application/json", "schema"]
        for e in _validator(doc, parts).iter_errors(r["body"]):
            problems.append(f"{where}: {e.message} at {list(e.absolute_path)}")
    return problems


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, arg = argv[1], argv[2]
    if cmd == "json":
        json.dump(load(arg), sys.stdout, default=str)
        return 0
    if cmd == "toml":
        import tomllib

        with open(arg, "rb") as f:
            json.dump(tomllib.load(f), sys.stdout)
        return 0
    if cmd == "openapi":
        from openapi_spec_validator import validate

        try:
            validate(load(arg))
        except Exception as e:  # noqa: BLE001 - report any validation failure
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            return 1
        return 0
    if cmd == "examples":
        problems, count = check_examples(load(arg))
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        print(count)
        return 0
    if cmd == "responses":
        problems = check_responses(load(arg), json.load(sys.stdin))
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        return 0
    if cmd == "iam-actions":
        import importlib.resources

        data = json.loads(
            importlib.resources.files("cfnlint.data.AdditionalSpecs")
            .joinpath("Policies.json")
            .read_text(encoding="utf-8")
        )
        out = {}
        for svc in arg.split(","):
            out[svc] = sorted(data.get(svc, {}).get("Actions", {}).keys())
        json.dump(out, sys.stdout)
        return 0
    print(f"unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
