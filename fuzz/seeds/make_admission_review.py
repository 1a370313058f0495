"""Writes fuzz/seeds/admission_review/: each golden pod of tests/fixtures/webhook in the
AdmissionReview the API server sends for it (the shape of tests/webhook.rs's review_for), and a
few broken reviews. Run from the repository root with PyYAML (the test venv has it):
    .venv-test/bin/python fuzz/seeds/make_admission_review.py
"""

import glob
import json
import os

import yaml

OUT = "fuzz/seeds/admission_review"


def review(pod, namespace, uid="705ab4f5-6393-11e8-b7cc-42010a800002", version="v1", op="CREATE"):
    return {
        "apiVersion": "admission.k8s.io/" + version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": op,
            "namespace": namespace,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    }


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode())


os.makedirs(OUT, exist_ok=True)
for path in sorted(glob.glob("tests/fixtures/webhook/*.yaml")):
    case = yaml.safe_load(open(path))
    ns = (case.get("service_account") or {}).get("namespace", "default")
    write(os.path.basename(path)[:-5] + ".json", review(case["pod"], ns))

pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"serviceAccountName": "app", "containers": [{"name": "a"}]}}
good = json.dumps(review(pod, "default"), separators=(",", ":")).encode()
write("broken-truncated", good[: len(good) // 2])
write("broken-not-json", b"apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\n")
write("broken-wrong-kind", {"apiVersion": "v1", "kind": "Pod", "spec": {}})
write("broken-no-request", {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})
write("broken-no-uid", {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"object": pod}})
write("broken-uid-type", {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": ["x"]}})
write("broken-pod-shapes", review({"metadata": {"annotations": {"a": 1}}, "spec": {"volumes": 3, "containers": [1, {"env": "x"}]}}, "default"))
write("broken-containers-object", review({"spec": {"containers": {"name": "a"}}}, ""))
write("v1beta1-update", review(pod, "default", version="v1beta1", op="UPDATE"))
write("deployment", {**review(pod, "default"), "request": {**review(pod, "default")["request"], "kind": {"group": "apps", "version": "v1", "kind": "Deployment"}}})
