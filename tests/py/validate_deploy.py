"""Offline validation of deploy/ (kustomize) for irsa-issuer's tests.

1. Builds the kustomization the way kustomize does for what it uses here: the listed resources,
   the namespace, the labels (not on selectors) and the image override.
2. Validates every object against the Kubernetes OpenAPI schemas bundled with
   kubernetes-validate (strict: unknown fields are errors), for each version given.
3. Checks what the issue asks of the manifests (replicas, probes, PDB, security, resources,
   the verify CronJob, the key volume), and that selectors match the pod labels.
4. Runs each container's args through the irsa-issuer binary's own parser (with --help
   appended: clap refuses an unknown flag before it prints help).

Prints one line per finding and exits 1 on any; "ok N objects" otherwise.
"""

import argparse
import os
import subprocess
import sys

import kubernetes_validate
import yaml


def build(root):
    with open(os.path.join(root, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    listed = set(k["resources"])
    present = {n for n in os.listdir(root) if n.endswith(".yaml") and n != "kustomization.yaml"}
    problems = [f"{n} is in deploy/ but not in kustomization.yaml resources" for n in sorted(present - listed)]
    problems += [f"{n} is listed but missing" for n in sorted(listed - present)]
    images = {i["name"]: f'{i["newName"]}:{i["newTag"]}' for i in k.get("images", [])}
    labels = {}
    for block in k.get("labels", []):
        labels.update(block["pairs"])
    objects = []
    for name in k["resources"]:
        with open(os.path.join(root, name)) as f:
            for doc in yaml.safe_load_all(f):
                if not doc:
                    continue
                meta = doc.setdefault("metadata", {})
                if doc["kind"] != "Namespace":
                    meta["namespace"] = k["namespace"]
                meta.setdefault("labels", {}).update(labels)
                for c in containers(doc):
                    c["image"] = images.get(c["image"], c["image"])
                objects.append((name, doc))
    return objects, problems


def pod_spec(obj):
    kind = obj["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def containers(obj):
    spec = pod_spec(obj)
    return spec["containers"] if spec else []


def check(objects, binary):
    problems = []
    by_kind = {}
    for _, o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    need = ["Namespace", "Deployment", "Service", "PodDisruptionBudget", "Ingress", "CronJob", "ServiceAccount"]
    problems += [f"no {k}" for k in need if k not in by_kind]
    if problems:
        return problems
    dep = by_kind["Deployment"][0]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    if dep["spec"]["replicas"] != 2:
        problems.append("the Deployment must run 2 replicas")
    sel = dep["spec"]["selector"]["matchLabels"]
    if any(pod_labels.get(k) != v for k, v in sel.items()):
        problems.append("the Deployment's selector does not match its pod labels")
    for kind in ("Service", "PodDisruptionBudget"):
        o = by_kind[kind][0]
        s = o["spec"]["selector"] if kind == "Service" else o["spec"]["selector"]["matchLabels"]
        if any(pod_labels.get(k) != v for k, v in s.items()):
            problems.append(f"the {kind} selector does not match the pods")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if c.get(probe, {}).get("httpGet", {}).get("path") != path:
            problems.append(f"{probe} must GET {path}")
    for o in by_kind["Deployment"] + by_kind["CronJob"]:
        spec = pod_spec(o)
        name = f'{o["kind"]} {o["metadata"]["name"]}'
        if not spec.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{name}: runAsNonRoot is not set")
        for ct in spec["containers"]:
            sc = ct.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem"):
                problems.append(f"{name}: readOnlyRootFilesystem is not set")
            if sc.get("allowPrivilegeEscalation", True):
                problems.append(f"{name}: allowPrivilegeEscalation is not false")
            req = ct.get("resources", {}).get("requests", {})
            if "cpu" not in req or "memory" not in req:
                problems.append(f"{name}: no cpu/memory requests")
            if ":" not in ct["image"]:
                problems.append(f"{name}: image {ct['image']} has no tag")
            args = ct.get("args", [])
            r = subprocess.run([binary, *args, "--help"], capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"{name}: irsa-issuer refuses its args {args}: {r.stderr.strip()}")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes", [])}
    key_dir = next((a.split("=", 1)[1] for a in c["args"] if a.startswith("--key-dir=")), None)
    key_vol = next((n for n, p in mounts.items() if p == key_dir), None)
    if key_vol is None or not ({"configMap", "secret"} & set(vols.get(key_vol, {}))):
        problems.append("the --key-dir must be a mounted ConfigMap or Secret")
    cj = by_kind["CronJob"][0]
    if pod_spec(cj)["containers"][0]["args"][0] != "verify":
        problems.append("the CronJob must run irsa-issuer verify")
    return problems


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--deploy", required=True)
    p.add_argument("--binary", required=True)
    p.add_argument("--kube-version", action="append", required=True)
    args = p.parse_args()
    objects, problems = build(args.deploy)
    for version in args.kube_version:
        for name, o in objects:
            try:
                kubernetes_validate.validate(o, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                problems.append(f"{name}: {o['kind']} {o['metadata'].get('name')}: Kubernetes {version}: {e.message} at {'.'.join(str(x) for x in e.path)}")
            except Exception as e:  # unknown version or kind: a finding, not a pass
                problems.append(f"{name}: {o['kind']}: Kubernetes {version}: {e}")
    problems += check(objects, args.binary)
    for pr in problems:
        print(pr)
    if problems:
        return 1
    print(f"ok {len(objects)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
