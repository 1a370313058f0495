"""Offline validation of deploy/ (kustomize) for irsa-issuer's tests.

1. Builds the kustomization the way kustomize does for what it uses here: the listed resources,
   the namespace, the labels (not on selectors) and the image override.
2. Validates every object against the Kubernetes OpenAPI schemas bundled with
   kubernetes-validate (strict: unknown fields are errors), for each version given.
3. Checks what the issue asks of the manifests (replicas, probes, PDB, security, resources,
   the verify CronJob, the key volume), and that selectors match the pod labels.
4. Runs each container's args through the irsa-issuer binary's own parser (with --help
   appended: clap refuses an unknown flag before it prints help).

With --profile webhook it checks deploy/webhook/ instead: the Deployment, Service, PDB and
read-only RBAC of the pod-identity webhook, and the Secret and MutatingWebhookConfiguration that
`irsa-issuer webhook install` prints for that namespace (validated the same way and matched
against the Deployment's certificate volume and the Service).

Prints one line per finding and exits 1 on any; "ok N objects" otherwise.
"""

import argparse
import os
import subprocess
import sys

import kubernetes_validate
import yaml


CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"}


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
                if doc["kind"] not in CLUSTER_SCOPED:
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


def pod_checks(dep, binary):
    """What every Deployment here must be: non-root, read-only, requests, a tagged image, args
    irsa-issuer accepts."""
    problems = []
    spec = pod_spec(dep)
    name = f'{dep["kind"]} {dep["metadata"]["name"]}'
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
    return problems


def check_webhook(objects, binary, namespace, install):
    problems = []
    by_kind = {}
    for _, o in objects + install:
        by_kind.setdefault(o["kind"], []).append(o)
    need = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
            "PodDisruptionBudget", "Secret", "MutatingWebhookConfiguration"]
    problems += [f"no {k}" for k in need if k not in by_kind]
    if problems:
        return problems
    dep = by_kind["Deployment"][0]
    spec = pod_spec(dep)
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    if dep["spec"]["replicas"] != 2:
        problems.append("the Deployment must run 2 replicas")
    if any(pod_labels.get(k) != v for k, v in dep["spec"]["selector"]["matchLabels"].items()):
        problems.append("the Deployment's selector does not match its pod labels")
    svc, pdb = by_kind["Service"][0], by_kind["PodDisruptionBudget"][0]
    for kind, sel in (("Service", svc["spec"]["selector"]), ("PodDisruptionBudget", pdb["spec"]["selector"]["matchLabels"])):
        if any(pod_labels.get(k) != v for k, v in sel.items()):
            problems.append(f"the {kind} selector does not match the pods")
    c = spec["containers"][0]
    if c.get("args", [None])[0] != "webhook":
        problems.append("the Deployment must run irsa-issuer webhook")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        g = c.get(probe, {}).get("httpGet", {})
        if g.get("path") != path or g.get("scheme") != "HTTPS":
            problems.append(f"{probe} must GET {path} over HTTPS")
    problems += pod_checks(dep, binary)
    sa = by_kind["ServiceAccount"][0]
    if spec.get("serviceAccountName") != sa["metadata"]["name"]:
        problems.append("the Deployment must run as the webhook's ServiceAccount")
    if spec.get("automountServiceAccountToken") is False or sa.get("automountServiceAccountToken") is False:
        problems.append("the webhook needs its ServiceAccount token to watch ServiceAccounts")
    rules = by_kind["ClusterRole"][0]["rules"]
    if rules != [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list", "watch"]}]:
        problems.append(f"the ClusterRole must grant get, list and watch on serviceaccounts and nothing else, not {rules}")
    crb = by_kind["ClusterRoleBinding"][0]
    if crb["roleRef"] != {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": by_kind["ClusterRole"][0]["metadata"]["name"]}:
        problems.append("the ClusterRoleBinding does not bind the ClusterRole")
    if crb["subjects"] != [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": namespace}]:
        problems.append(f"the ClusterRoleBinding must bind ServiceAccount {namespace}/{sa['metadata']['name']}")
    args = dict(a.split("=", 1) for a in c["args"][1:] if a.startswith("--") and "=" in a)
    port = int(args.get("--port", "443"))
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    target = svc["spec"]["ports"][0]
    if svc["spec"]["ports"][0]["port"] != 443 or ports.get(target["targetPort"], target["targetPort"]) != port:
        problems.append(f"the Service must map port 443 to the webhook's --port {port}")
    secret, mwc = by_kind["Secret"][0], by_kind["MutatingWebhookConfiguration"][0]
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    cert_dir = os.path.dirname(args.get("--tls-cert", "/etc/webhook/certs/tls.crt"))
    vol = next((n for n, p in mounts.items() if p == cert_dir), None)
    if vol is None or vols.get(vol, {}).get("secret", {}).get("secretName") != secret["metadata"]["name"]:
        problems.append(f"the --tls-cert directory must be the mounted Secret {secret['metadata']['name']} that webhook install prints")
    if secret["metadata"].get("namespace") != namespace:
        problems.append("webhook install's Secret is not in the webhook's namespace")
    w = mwc["webhooks"][0]
    ref = w["clientConfig"]["service"]
    if (ref["name"], ref["namespace"], ref.get("port", 443)) != (svc["metadata"]["name"], namespace, 443):
        problems.append(f"the MutatingWebhookConfiguration calls {ref}, not the Service")
    if namespace not in w["namespaceSelector"]["matchExpressions"][0]["values"]:
        problems.append("the MutatingWebhookConfiguration must skip the webhook's own namespace")
    if w.get("failurePolicy") != "Ignore":
        problems.append("failurePolicy must be Ignore: the webhook never blocks a pod")
    return problems


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--deploy", required=True)
    p.add_argument("--binary", required=True)
    p.add_argument("--kube-version", action="append", required=True)
    p.add_argument("--profile", choices=["serve", "webhook"], default="serve")
    args = p.parse_args()
    objects, problems = build(args.deploy)
    install = []
    if args.profile == "webhook":
        with open(os.path.join(args.deploy, "kustomization.yaml")) as f:
            namespace = yaml.safe_load(f)["namespace"]
        r = subprocess.run([args.binary, "webhook", "install", "--namespace", namespace], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"irsa-issuer webhook install failed: {r.stderr.strip()}")
        else:
            install = [("webhook install", d) for d in yaml.safe_load_all(r.stdout) if d]
    for version in args.kube_version:
        for name, o in objects + install:
            try:
                kubernetes_validate.validate(o, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                problems.append(f"{name}: {o['kind']} {o['metadata'].get('name')}: Kubernetes {version}: {e.message} at {'.'.join(str(x) for x in e.path)}")
            except Exception as e:  # unknown version or kind: a finding, not a pass
                problems.append(f"{name}: {o['kind']}: Kubernetes {version}: {e}")
    if args.profile == "webhook":
        problems += check_webhook(objects, args.binary, namespace, install)
    else:
        problems += check(objects, args.binary)
    objects += install
    for pr in problems:
        print(pr)
    if problems:
        return 1
    print(f"ok {len(objects)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
