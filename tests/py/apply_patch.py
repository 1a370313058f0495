"""Applies JSONPatches with the `jsonpatch` package (RFC 6902), an implementation independent of
irsa-issuer's, so the webhook's patches are checked by what the API server does with them, not
by the code that made them. Reads one JSON object per line, {"doc": ..., "patch": [...]}, and
prints one per line: {"ok": true, "doc": ...} or {"ok": false, "error": "..."}.
"""

import json
import sys

import jsonpatch


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            out = {"ok": True, "doc": jsonpatch.JsonPatch(req["patch"]).apply(req["doc"])}
        except Exception as e:  # a patch the API server would refuse: report it, do not crash
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
