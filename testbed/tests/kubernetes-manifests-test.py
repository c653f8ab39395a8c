#!/usr/bin/env python3
"""Checks deploy/kubernetes/*.yaml without a cluster (no kubectl here): every manifest parses, has
a known kind and apiVersion, and the invariants the deployment relies on hold. Exit status 0 when
all hold; otherwise one line per broken invariant."""

import glob
import os
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "kubernetes")
KINDS = {"ServiceAccount": "v1", "ConfigMap": "v1", "ClusterRole": "rbac.authorization.k8s.io/v1",
         "ClusterRoleBinding": "rbac.authorization.k8s.io/v1", "DaemonSet": "apps/v1"}
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


documents = []
for path in sorted(glob.glob(os.path.join(ROOT, "*.yaml"))):
    with open(path) as handle:
        for document in yaml.safe_load_all(handle):
            if document is not None:
                documents.append((os.path.basename(path), document))
by_kind = {}
for name, document in documents:
    kind = document.get("kind")
    check(kind in KINDS, f"{name}: unknown kind {kind!r}")
    check(document.get("apiVersion") == KINDS.get(kind), f"{name}: {kind} must be apiVersion {KINDS.get(kind)}, not {document.get('apiVersion')}")
    check(bool(document.get("metadata", {}).get("name")), f"{name}: metadata.name is missing")
    by_kind.setdefault(kind, []).append(document)
for kind in KINDS:
    check(len(by_kind.get(kind, [])) == 1, f"exactly one {kind} expected, found {len(by_kind.get(kind, []))}")
if problems:
    sys.exit("\n".join(problems))

role = by_kind["ClusterRole"][0]
granted = {}
for rule in role["rules"]:
    check(set(rule["verbs"]) <= {"list", "watch", "get"}, f"ClusterRole: verbs {rule['verbs']} go beyond list/watch/get")
    check({"list", "watch"} <= set(rule["verbs"]), f"ClusterRole: {rule['resources']} need list and watch")
    for group in rule["apiGroups"]:
        for resource in rule["resources"]:
            granted[(group, resource)] = set(rule["verbs"])
check(set(granted) == {("", "services"), ("", "nodes"), ("discovery.k8s.io", "endpointslices")},
      f"ClusterRole: grants {sorted(granted)}, not exactly services, nodes and discovery.k8s.io endpointslices")

account = by_kind["ServiceAccount"][0]["metadata"]
binding = by_kind["ClusterRoleBinding"][0]
check(binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]},
      "ClusterRoleBinding: roleRef is not the ClusterRole")
check({"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]} in binding["subjects"],
      "ClusterRoleBinding: the ServiceAccount is not a subject")

configmap = by_kind["ConfigMap"][0]
config = yaml.safe_load(configmap["data"]["nfq-lb.yaml"])
check("kubernetes" in config and config["kubernetes"].get("apiServer", "").startswith("https://"),
      "ConfigMap: the config has no kubernetes.apiServer https address")

daemonset = by_kind["DaemonSet"][0]
spec = daemonset["spec"]
pod = spec["template"]["spec"]
check(spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(), "DaemonSet: selector does not match the template")
check(pod.get("hostNetwork") is True, "DaemonSet: hostNetwork must be true")
check(pod.get("serviceAccountName") == account["name"], "DaemonSet: not run as the nfq-lb ServiceAccount")
check(pod.get("automountServiceAccountToken", True) is True, "DaemonSet: the service-account token must be mounted")
for container in pod.get("initContainers", []) + pod["containers"]:
    context = container.get("securityContext", {})
    check(context.get("privileged") is not True, f"DaemonSet: container {container['name']} is privileged")
    check(context.get("allowPrivilegeEscalation") is False, f"DaemonSet: container {container['name']} allows privilege escalation")
    check(context.get("capabilities", {}).get("drop") == ["ALL"], f"DaemonSet: container {container['name']} must drop ALL capabilities")
    check(set(context.get("capabilities", {}).get("add", [])) <= {"NET_ADMIN", "NET_RAW"},
          f"DaemonSet: container {container['name']} adds more than NET_ADMIN (and NET_RAW)")
main = pod["containers"][0]
env = {item["name"]: item for item in main.get("env", [])}
check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
      "DaemonSet: NODE_NAME must come from spec.nodeName")
volumes = {volume["name"]: volume for volume in pod["volumes"]}
mounted = {mount["name"]: mount for mount in main["volumeMounts"]}
check(any(volume.get("configMap", {}).get("name") == configmap["metadata"]["name"] and name in mounted for name, volume in volumes.items()),
      "DaemonSet: the ConfigMap is not mounted in the nfq-lb container")
check(any("install" in " ".join(c.get("command", [])) for c in pod.get("initContainers", []))
      or "--install-hooks" in main.get("command", []), "DaemonSet: nothing installs the hooks")
check("remove" in " ".join(main.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])),
      "DaemonSet: no preStop removes the hooks")
for name, document in documents:
    namespaced = document["kind"] not in ("ClusterRole", "ClusterRoleBinding")
    check(("namespace" in document["metadata"]) == namespaced, f"{name}: {document['kind']} namespace set wrongly")

if problems:
    sys.exit("\n".join(problems))
print(f"kubernetes-manifests-test: {len(documents)} manifests, every invariant holds")
