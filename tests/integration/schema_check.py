#!/usr/bin/env python3
"""schema_check.py — validate JSON documents against a JSON Schema, with
the subset of draft 2020-12 that docs/report.schema.json uses: type (with
integer), const, enum, required, properties, additionalProperties, items,
minimum, maxItems, local $ref (#/$defs/...), allOf, if/then.  An unknown
keyword is an error, so the schema cannot use more than this checks.

usage: schema_check.py SCHEMA FILE...   (exit 0: all valid; 1: problems)
"""
import json
import sys

KNOWN = {"$schema", "$id", "$defs", "title", "description", "type", "const", "enum",
         "required", "properties", "additionalProperties", "items", "minimum",
         "maxItems", "$ref", "allOf", "if", "then"}


def type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    raise ValueError("unknown type " + t)


def check(root, s, v, path, errs):
    unknown = set(s) - KNOWN
    if unknown:
        raise ValueError("schema uses unsupported keywords %s at %s" % (sorted(unknown), path))
    if "$ref" in s:
        ref = s["$ref"]
        assert ref.startswith("#/$defs/"), ref
        check(root, root["$defs"][ref[8:]], v, path, errs)
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(type_ok(v, t) for t in ts):
            errs.append("%s: %r is not of type %s" % (path, v, ts))
            return
    if "const" in s and v != s["const"]:
        errs.append("%s: %r is not %r" % (path, v, s["const"]))
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r is not one of %r" % (path, v, s["enum"]))
    if "minimum" in s and type_ok(v, "number") and v < s["minimum"]:
        errs.append("%s: %r is below %r" % (path, v, s["minimum"]))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                errs.append("%s: missing required %s" % (path, k))
        props = s.get("properties", {})
        for k, sub in v.items():
            if k in props:
                check(root, props[k], sub, path + "." + k, errs)
            elif "additionalProperties" in s:
                ap = s["additionalProperties"]
                if ap is False:
                    errs.append("%s: unexpected %s" % (path, k))
                elif isinstance(ap, dict):
                    check(root, ap, sub, path + "." + k, errs)
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append("%s: more than %d items" % (path, s["maxItems"]))
        if "items" in s:
            for i, sub in enumerate(v):
                check(root, s["items"], sub, "%s[%d]" % (path, i), errs)
    for sub in s.get("allOf", []):
        check(root, sub, v, path, errs)
    if "if" in s:
        trial = []
        check(root, s["if"], v, path, trial)
        if not trial and "then" in s:
            check(root, s["then"], v, path, errs)


def main():
    schema = json.load(open(sys.argv[1]))
    bad = 0
    for f in sys.argv[2:]:
        errs = []
        check(schema, schema, json.load(open(f)), "$", errs)
        for e in errs:
            print("%s: %s" % (f, e))
        bad += len(errs)
    sys.exit(1 if bad else 0)


main()
