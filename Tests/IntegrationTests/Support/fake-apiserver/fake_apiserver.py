#!/usr/bin/env python3
"""A small Kubernetes API server of nfq-lb's own, for tests: the real wire format over HTTPS.

CI cannot run a real kube-apiserver, so the tests drive nfq-lb through this one. It serves what a
node proxy reads (Services, EndpointSlices, Nodes: GET, LIST with selectors, resourceVersion and
limit/continue paging, WATCH streams of JSON lines with ADDED/MODIFIED/DELETED/BOOKMARK/ERROR), with
bearer-token auth, and the shapes of the responses recorded from kube-apiserver v1.36
(../shared/k8s/samples; FakeAPIServerTests compares the two). Python 3 standard library only, plus
the `openssl` command for the certificates.

A second, plain-HTTP API on a unix socket (STATE_DIR/control.sock, reachable from any network
namespace) lets a test change the world: create, update and delete objects, compact the history,
cut the open watches, rotate the token, delay or refuse requests, and read the request log.

    fake_apiserver.py --state-dir DIR [--port 0] [--listen 127.0.0.1 --listen ::1] [--san IP]...
                      [--bookmark-interval 5] [--ttl 600]

When it is ready it writes DIR/server.json (url, port, token, file paths, pid) atomically; it
exits on SIGTERM, SIGINT, or when --ttl seconds have passed, so nothing lingers after a test.
"""

import argparse
import base64
import bisect
import datetime
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

# --------------------------------------------------------------------------------------------
# Resources: what each kind is called on the wire.


class Resource:
    def __init__(self, name, kind, group, version, namespaced, bookmark_body):
        self.name = name  # plural, as in the path
        self.kind = kind
        self.group = group
        self.version = version
        self.namespaced = namespaced
        self.bookmark_body = bookmark_body  # the zero-valued fields Go prints in a BOOKMARK

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        return f"{self.name}.{self.group}" if self.group else self.name


_NODE_BOOKMARK_STATUS = {
    "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
    "nodeInfo": {key: "" for key in ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                                     "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
                                     "operatingSystem", "architecture")},
}

RESOURCES = {
    "services": Resource("services", "Service", "", "v1", True,
                         {"spec": {}, "status": {"loadBalancer": {}}}),
    "endpointslices": Resource("endpointslices", "EndpointSlice", "discovery.k8s.io", "v1", True,
                               {"addressType": "", "endpoints": None, "ports": None}),
    "nodes": Resource("nodes", "Node", "", "v1", False,
                      {"spec": {}, "status": _NODE_BOOKMARK_STATUS}),
}
BY_KIND = {resource.kind: resource for resource in RESOURCES.values()}

VERSION = {
    "major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
    "minCompatibilityMajor": "1", "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.2-nfqlb-fake", "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z", "goVersion": "go1.27.3",
    "compiler": "gc", "platform": "linux/amd64",
}

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def status_object(code, message, reason=None, details=None):
    """A metav1.Status, keys in the order the real server prints them."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason or REASONS.get(code, "")}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def encode(value):
    """Compact JSON as Go's encoding/json writes it (<, >, & escaped; UTF-8 kept)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def now_timestamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Selectors, as apimachinery parses them (the subset a node proxy sends, and `in`/`notin`).


class SelectorError(ValueError):
    pass


def split_terms(text):
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term.strip() for term in terms if term.strip()]


def parse_label_selector(text):
    """A list of predicates over a labels dict; raises SelectorError on nonsense."""
    predicates = []
    for term in split_terms(text or ""):
        words = term.split()
        if len(words) >= 3 and words[1] in ("in", "notin"):
            key, operator = words[0], words[1]
            rest = term.split(operator, 1)[1].strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise SelectorError(f"unable to parse requirement: {term}")
            values = {value.strip() for value in rest[1:-1].split(",") if value.strip()}
            if operator == "in":
                predicates.append(lambda labels, k=key, v=values: labels.get(k) in v)
            else:
                predicates.append(lambda labels, k=key, v=values: labels.get(k) not in v)
        elif term.startswith("!"):
            key = term[1:].strip()
            if not key or any(c in key for c in "=!() "):
                raise SelectorError(f"unable to parse requirement: {term}")
            predicates.append(lambda labels, k=key: k not in labels)
        elif "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            predicates.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif "=" in term:
            key, value = (part.strip() for part in term.replace("==", "=").split("=", 1))
            if not key:
                raise SelectorError(f"unable to parse requirement: {term}")
            predicates.append(lambda labels, k=key, v=value: labels.get(k) == v)
        else:
            if any(c in term for c in "() "):
                raise SelectorError(f"unable to parse requirement: {term}")
            predicates.append(lambda labels, k=term: k in labels)
    return lambda obj: all(predicate((obj.get("metadata") or {}).get("labels") or {}) for predicate in predicates)


FIELDS = {
    "metadata.name": lambda obj: obj["metadata"].get("name", ""),
    "metadata.namespace": lambda obj: obj["metadata"].get("namespace", ""),
}


def parse_field_selector(text):
    predicates = []
    for term in split_terms(text or ""):
        if "!=" in term:
            field, value = term.split("!=", 1)
            negate = True
        elif "=" in term:
            field, value = term.replace("==", "=").split("=", 1)
            negate = False
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field = field.strip()
        if field not in FIELDS:
            raise SelectorError(f'field label not supported: {field}')
        getter = FIELDS[field]
        predicates.append(lambda obj, g=getter, v=value.strip(), n=negate: (g(obj) == v) != n)
    return lambda obj: all(predicate(obj) for predicate in predicates)


# --------------------------------------------------------------------------------------------
# The store: current objects, and every change since the last compaction (for watches from a
# resourceVersion and for lists at an exact one).


class Change:
    __slots__ = ("rv", "resource", "key", "previous", "current")

    def __init__(self, rv, resource, key, previous, current):
        self.rv, self.resource, self.key, self.previous, self.current = rv, resource, key, previous, current


class Store:
    def __init__(self, first_rv):
        self.condition = threading.Condition()
        self.rv = first_rv  # the newest resourceVersion handed out
        self.compacted_rv = first_rv  # changes at or below this one are gone
        self.objects = {name: {} for name in RESOURCES}  # resource -> key -> object
        self.changes = []  # sorted by rv
        self.bookmark_generation = 0
        self.cut_generation = 0
        self.cut_graceful = False
        self.next_cluster_ip = 100

    @staticmethod
    def key(resource, namespace, name):
        return f"/{namespace}/{name}" if resource.namespaced else f"/{name}"

    def _complete(self, resource, obj, previous):
        """Fills in what the real API server adds: metadata, defaults, and nothing else."""
        obj = json.loads(json.dumps(obj))
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        metadata = obj.setdefault("metadata", {})
        for field in ("managedFields", "resourceVersion", "selfLink"):
            metadata.pop(field, None)
        ordered = {"name": metadata.pop("name")}
        if resource.namespaced:
            ordered["namespace"] = metadata.pop("namespace", None) or "default"
        else:
            metadata.pop("namespace", None)
        old_metadata = (previous or {}).get("metadata", {})
        ordered["uid"] = old_metadata.get("uid") or metadata.pop("uid", None) or str(uuid.uuid4())
        metadata.pop("uid", None)
        ordered["resourceVersion"] = ""
        if resource.name == "endpointslices":
            generation = old_metadata.get("generation", 0) + 1
            metadata.pop("generation", None)
            ordered["generation"] = generation
        ordered["creationTimestamp"] = old_metadata.get("creationTimestamp") or metadata.pop("creationTimestamp", None) or now_timestamp()
        metadata.pop("creationTimestamp", None)
        for field, value in metadata.items():
            if value not in (None, {}, []):
                ordered[field] = value
        obj["metadata"] = ordered
        if resource.name == "services":
            self._default_service(obj)
        elif resource.name == "endpointslices":
            for endpoint in obj.get("endpoints") or []:
                endpoint.setdefault("conditions", {})
            for port in obj.get("ports") or []:
                port.setdefault("protocol", "TCP")
        result = {}
        for field in ("metadata", "spec", "status"):
            if field in obj:
                result[field] = obj.pop(field)
        result.update(obj)
        return result

    def _default_service(self, obj):
        spec = obj.setdefault("spec", {})
        kind = spec.get("type") or "ClusterIP"
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            if kind != "ExternalName":
                port.setdefault("targetPort", port.get("port"))
        if kind != "ExternalName":
            if not spec.get("clusterIP"):
                self.next_cluster_ip += 1
                spec["clusterIP"] = f"10.96.{self.next_cluster_ip // 250}.{self.next_cluster_ip % 250 + 2}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        defaults = [("type", kind), ("sessionAffinity", "None")]
        if kind != "ExternalName":
            families = []
            for address in spec.get("clusterIPs") or []:
                try:
                    families.append("IPv6" if ipaddress.ip_address(address).version == 6 else "IPv4")
                except ValueError:  # "None": a headless service still has a family
                    families.append("IPv4")
            defaults += [("ipFamilies", families or ["IPv4"]),
                         ("ipFamilyPolicy", "SingleStack" if len(families) < 2 else "PreferDualStack")]
        if kind != "ExternalName":
            defaults.append(("internalTrafficPolicy", "Cluster"))
        ordered = {}
        for field in ("ports", "selector", "clusterIP", "clusterIPs"):
            if field in spec:
                ordered[field] = spec.pop(field)
        for field, value in defaults:
            ordered[field] = spec.pop(field, value)
        ordered.update(spec)
        obj["spec"] = ordered
        obj.setdefault("status", {"loadBalancer": {}})

    def apply(self, obj):
        """Creates or replaces one object (kind says which resource); returns it as stored."""
        resource = BY_KIND.get(obj.get("kind"))
        if resource is None:
            raise ValueError(f"unknown kind {obj.get('kind')!r}: one of {', '.join(BY_KIND)}")
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("metadata.name is required")
        with self.condition:
            namespace = (obj["metadata"].get("namespace") or "default") if resource.namespaced else ""
            key = self.key(resource, namespace, name)
            previous = self.objects[resource.name].get(key)
            stored = self._complete(resource, obj, previous)
            if previous is not None:
                unchanged = dict(stored, metadata=dict(stored["metadata"], resourceVersion=previous["metadata"]["resourceVersion"]))
                if resource.name == "endpointslices":
                    unchanged["metadata"]["generation"] = previous["metadata"]["generation"]
                if unchanged == previous:  # a no-op update: no new resourceVersion, no event (as the real one)
                    return previous
            self.rv += 1
            stored["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[resource.name][key] = stored
            self.changes.append(Change(self.rv, resource.name, key, previous, stored))
            self.condition.notify_all()
            return stored

    def delete(self, kind, namespace, name):
        resource = BY_KIND.get(kind) or RESOURCES.get(kind)
        if resource is None:
            raise ValueError(f"unknown kind {kind!r}")
        with self.condition:
            key = self.key(resource, namespace or "default", name)
            previous = self.objects[resource.name].pop(key, None)
            if previous is None:
                return None
            self.rv += 1
            self.changes.append(Change(self.rv, resource.name, key, previous, None))
            self.condition.notify_all()
            return previous

    def compact(self):
        """Forgets every change up to now: a watch or an exact list from an older RV expires."""
        with self.condition:
            self.compacted_rv = self.rv
            self.changes = []
            return self.compacted_rv

    def state_at(self, resource_name, rv):
        """The objects of a resource as they were at `rv` (>= compacted_rv). Caller holds the lock."""
        state = dict(self.objects[resource_name])
        for change in reversed(self.changes):
            if change.rv <= rv:
                break
            if change.resource != resource_name:
                continue
            if change.previous is None:
                state.pop(change.key, None)
            else:
                state[change.key] = change.previous
        return state

    def changes_after(self, rv):
        index = bisect.bisect_right([change.rv for change in self.changes], rv)
        return self.changes[index:]


# --------------------------------------------------------------------------------------------
# Test controls that are not objects: tokens, faults, the request log.


class Controls:
    def __init__(self, token, token_file):
        self.lock = threading.Lock()
        self.tokens = {token}
        self.token_file = token_file
        self.faults = []
        self.requests = []
        self.watch_expired_as = "event"  # or "status": HTTP 410 for a watch from a compacted RV
        self.active_watches = 0

    def rotate(self, token, keep_old=False, write_file=True):
        with self.lock:
            self.tokens = (self.tokens | {token}) if keep_old else {token}
        if write_file:
            write_atomically(self.token_file, token)

    def accepts(self, token):
        with self.lock:
            return token in self.tokens

    def record(self, entry):
        with self.lock:
            entry["index"] = len(self.requests)
            self.requests.append(entry)
            if len(self.requests) > 100_000:
                del self.requests[:10_000]

    def fault_for(self, path, is_watch):
        """The first fault rule that matches, its count used once; None if none."""
        with self.lock:
            for rule in self.faults:
                if rule.get("count", 1) == 0:
                    continue
                if rule.get("match", "") not in path:
                    continue
                if "watch" in rule and bool(rule["watch"]) != is_watch:
                    continue
                if "count" in rule:
                    rule["count"] -= 1
                return dict(rule)
        return None


def write_atomically(path, text):
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.rename(temporary, path)


# --------------------------------------------------------------------------------------------
# The API: HTTPS, bearer token.


class APIHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nfq-lb-fake-apiserver"
    sys_version = ""
    timeout = 300  # an idle keep-alive connection goes after this long

    # set on the class by main()
    store = None
    controls = None
    options = None

    def setup(self):
        self.request.settimeout(10)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            self.rfile = self.wfile = None
            raise
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass

    def log_message(self, format, *args):
        if not self.options.quiet:
            sys.stderr.write("fake-apiserver: %s\n" % (format % args))

    # -- replies

    def send_body(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else encode(body)
        self.send_response(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.status_sent = code

    def send_response(self, code, message=None):
        super().send_response(code, message)
        entry = getattr(self, "entry", None)
        if entry is not None:
            with self.controls.lock:
                entry["status"] = code

    def send_status(self, code, message, reason=None, details=None):
        self.send_body(code, status_object(code, message, reason, details))

    def do_GET(self):
        started = time.time()
        parsed = urllib.parse.urlsplit(self.path)
        query = {key: values[-1] for key, values in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        is_watch = query.get("watch", "") in ("1", "true", "True")
        authorization = self.headers.get("Authorization", "")
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        entry = {"time": started, "method": "GET", "path": parsed.path, "query": parsed.query, "token": token,
                 "watch": is_watch, "status": 0}
        self.status_sent = 0
        # Logged when it starts (an open watch is in the log, status 200 once its headers are
        # sent), completed when it ends: the log is in the order the requests came.
        self.entry = entry
        self.controls.record(entry)
        try:
            fault = self.controls.fault_for(self.path, is_watch)
            if fault and fault.get("delaySeconds"):
                time.sleep(min(float(fault["delaySeconds"]), 60))
            if fault and fault.get("drop"):
                self.close_connection = True
                self.request.shutdown(socket.SHUT_RDWR)
                entry["status"] = -1
                return
            if fault and fault.get("status"):
                code = int(fault["status"])
                self.send_status(code, fault.get("message", f"injected by the test: {code}"))
                return
            if parsed.path in ("/healthz", "/livez", "/readyz"):
                self.send_body(200, b"ok", "text/plain; charset=utf-8")
                return
            if token is None or not self.controls.accepts(token):
                self.send_status(401, "Unauthorized")
                return
            self.route(parsed.path, query, is_watch)
        finally:
            with self.controls.lock:
                entry["status"] = entry["status"] or self.status_sent
                entry["seconds"] = round(time.time() - started, 4)

    def do_POST(self):
        self.method_not_allowed()

    do_PUT = do_PATCH = do_DELETE = do_POST

    def method_not_allowed(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_status(405, "the fake API server is read-only: change objects through its control API",
                         details={})

    def route(self, path, query, is_watch):
        if path == "/version":
            self.send_body(200, VERSION)
            return
        parts = [part for part in path.split("/") if part]
        # /api/v1/... or /apis/GROUP/VERSION/...
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return self.not_found()
        namespace = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            return self.not_found()
        resource = RESOURCES.get(rest[0])
        if resource is None or resource.group != group or resource.version != version:
            return self.not_found()
        if namespace is not None and not resource.namespaced:
            return self.not_found()
        try:
            label_match = parse_label_selector(query.get("labelSelector", ""))
            field_match = parse_field_selector(query.get("fieldSelector", ""))
        except SelectorError as error:
            return self.send_status(400, str(error))
        if namespace is not None:
            inner = field_match
            field_match = lambda obj, n=namespace: obj["metadata"].get("namespace") == n and inner(obj)
        if len(rest) == 2:
            name = rest[1]
            if is_watch:  # a watch of one object: a fieldSelector on its name
                inner_name = field_match
                field_match = lambda obj, n=name: obj["metadata"].get("name") == n and inner_name(obj)
            else:
                return self.get_one(resource, namespace or "default", name)
        matches = lambda obj: obj is not None and label_match(obj) and field_match(obj)
        if is_watch:
            self.watch(resource, matches, query)
        else:
            self.list(resource, matches, query)

    def not_found(self):
        self.send_status(404, "the server could not find the requested resource", details={})

    def get_one(self, resource, namespace, name):
        with self.store.condition:
            obj = self.store.objects[resource.name].get(Store.key(resource, namespace, name))
        if obj is None:
            details = {"name": name}
            if resource.group:
                details["group"] = resource.group
            details["kind"] = resource.name
            return self.send_status(404, f'{resource.qualified} "{name}" not found', details=details)
        self.send_body(200, self.with_kind(resource, obj))

    @staticmethod
    def with_kind(resource, obj):
        result = {"kind": resource.kind, "apiVersion": resource.api_version}
        result.update(obj)
        return result

    # -- LIST

    def list(self, resource, matches, query):
        rv_text = query.get("resourceVersion", "")
        match = query.get("resourceVersionMatch", "")
        limit = int(query.get("limit") or 0)
        start = ""
        store = self.store
        with store.condition:
            if query.get("continue"):
                try:
                    token = json.loads(base64.urlsafe_b64decode(query["continue"] + "=" * (-len(query["continue"]) % 4)))
                    list_rv, start = int(token["rv"]), token["start"]
                except (ValueError, KeyError, TypeError):
                    return self.send_status(400, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
                if list_rv < store.compacted_rv:
                    return self.send_status(
                        410, "The provided continue parameter is too old to display a consistent list result. "
                             "You can start a new list without the continue parameter, or use the continue token "
                             "in this response to retrieve the remainder of the results. Continuing with the "
                             "provided token results in an inconsistent list - objects that were created, modified, "
                             "or deleted between the time the first chunk was returned and now may show up in the list.")
            elif rv_text not in ("", "0"):
                try:
                    wanted = int(rv_text)
                except ValueError:
                    return self.send_status(400, f"resourceVersion: Invalid value: {rv_text!r}: must be a number")
                if match == "Exact":
                    if wanted < store.compacted_rv:
                        return self.send_status(410, f"The resourceVersion for the provided list is too old.")
                    list_rv = wanted
                else:
                    if wanted > store.rv:
                        store.condition.wait_for(lambda: store.rv >= wanted, timeout=3)
                    if wanted > store.rv:
                        return self.send_status(504, f"Too large resource version: {wanted}, current: {store.rv}",
                                                details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                                     "message": "Too large resource version"}],
                                                         "retryAfterSeconds": 1})
                    list_rv = store.rv
            else:
                list_rv = store.rv
            if list_rv > store.rv:
                list_rv = store.rv
            state = store.state_at(resource.name, list_rv) if list_rv < store.rv else store.objects[resource.name]
            keys = sorted(key for key in state if key > start and matches(state[key]))
            items = [state[key] for key in keys]
        metadata = {"resourceVersion": str(list_rv)}
        if limit > 0 and len(items) > limit:
            last = keys[limit - 1]
            token = {"v": "meta.k8s.io/v1", "rv": list_rv, "start": last + "\u0000"}
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        self.send_body(200, {"kind": resource.kind + "List", "apiVersion": resource.api_version,
                             "metadata": metadata, "items": items})

    # -- WATCH

    def watch(self, resource, matches, query):
        store, controls = self.store, self.controls
        rv_text = query.get("resourceVersion", "")
        bookmarks = query.get("allowWatchBookmarks", "") in ("1", "true", "True")
        initial_events = query.get("sendInitialEvents", "") in ("1", "true", "True")
        timeout = self.options.max_watch_seconds
        if query.get("timeoutSeconds"):
            timeout = min(timeout, max(0.0, float(query["timeoutSeconds"])))
        deadline = time.time() + timeout
        events = []
        with store.condition:
            if rv_text in ("", "0") or initial_events:
                cursor = store.rv
                if initial_events or rv_text in ("", "0"):
                    for key in sorted(store.objects[resource.name]):
                        obj = store.objects[resource.name][key]
                        if matches(obj):
                            events.append(("ADDED", obj))
                if initial_events and rv_text not in ("", "0"):
                    cursor = max(cursor, int(rv_text)) if rv_text.isdigit() else cursor
            else:
                try:
                    cursor = int(rv_text)
                except ValueError:
                    return self.send_status(400, f"resourceVersion: Invalid value: {rv_text!r}: must be a number")
            expired = cursor < store.compacted_rv
            oldest = store.compacted_rv
            bookmark_seen = store.bookmark_generation
            cut_seen = store.cut_generation
        if expired and controls.watch_expired_as == "status":
            return self.send_status(410, f"too old resource version: {cursor} ({oldest})", "Expired")
        self.send_response(200)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.status_sent = 200
        self.close_connection = True
        self.request.settimeout(30)
        if expired:
            self.send_event("ERROR", status_object(410, f"too old resource version: {cursor} ({oldest})", "Expired"))
            return self.end_stream()
        for event_type, obj in events:
            self.send_event(event_type, self.with_kind(resource, obj))
        if initial_events and bookmarks:
            self.send_bookmark(resource, cursor, {"k8s.io/initial-events-end": "true"})
        next_bookmark = time.time() + self.options.bookmark_interval
        with controls.lock:
            controls.active_watches += 1
        try:
            while True:
                with store.condition:
                    while True:
                        pending = store.changes_after(cursor)
                        now = time.time()
                        if (pending or store.cut_generation != cut_seen or now >= deadline or STOPPING.is_set()
                                or cursor < store.compacted_rv
                                or (bookmarks and (now >= next_bookmark or store.bookmark_generation != bookmark_seen))):
                            break
                        wake = min(deadline, next_bookmark if bookmarks else deadline, now + 1)
                        store.condition.wait(max(0.01, wake - now))
                    expired_now = cursor < store.compacted_rv and not pending
                    cut = store.cut_generation != cut_seen
                    graceful = store.cut_graceful
                    bookmark_due = bookmarks and (time.time() >= next_bookmark or store.bookmark_generation != bookmark_seen)
                    bookmark_seen = store.bookmark_generation
                    latest = store.rv
                    oldest = store.compacted_rv
                if cut:
                    if graceful:
                        return self.end_stream()
                    return self.request.shutdown(socket.SHUT_RDWR)
                if expired_now:
                    self.send_event("ERROR", status_object(410, f"too old resource version: {cursor} ({oldest})", "Expired"))
                    return self.end_stream()
                for change in pending:
                    cursor = change.rv
                    if change.resource != resource.name:
                        continue
                    was, now_matches = matches(change.previous), matches(change.current)
                    if change.current is None or (was and not now_matches):
                        if was:  # the last state it had, at the RV of its removal
                            gone = json.loads(json.dumps(change.previous))
                            gone["metadata"]["resourceVersion"] = str(change.rv)
                            self.send_event("DELETED", self.with_kind(resource, gone))
                    elif now_matches:
                        self.send_event("MODIFIED" if was else "ADDED", self.with_kind(resource, change.current))
                if bookmark_due:
                    cursor = max(cursor, latest)
                    self.send_bookmark(resource, cursor)
                    next_bookmark = time.time() + self.options.bookmark_interval
                if time.time() >= deadline or STOPPING.is_set():
                    return self.end_stream()
        finally:
            with controls.lock:
                controls.active_watches -= 1

    def send_bookmark(self, resource, rv, annotations=None):
        metadata = {"resourceVersion": str(rv)}
        if annotations:
            metadata["annotations"] = annotations
        obj = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata}
        obj.update(json.loads(json.dumps(resource.bookmark_body)))
        self.send_event("BOOKMARK", obj)

    def send_event(self, event_type, obj):
        data = encode({"type": event_type, "object": obj}) + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


# --------------------------------------------------------------------------------------------
# The control API: plain HTTP on a unix socket (and optionally on 127.0.0.1).


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nfq-lb-fake-apiserver-control"
    store = None
    controls = None
    options = None

    def address_string(self):
        return "control"

    def log_message(self, format, *args):
        if not self.options.quiet:
            sys.stderr.write("fake-apiserver control: %s\n" % (format % args))

    def reply(self, code, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        return json.loads(self.rfile.read(length))

    def do_GET(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        if parsed.path == "/requests":
            since = int(query.get("since", 0))
            with self.controls.lock:
                entries = [dict(entry) for entry in self.controls.requests if entry["index"] >= since]
            return self.reply(200, {"requests": entries})
        if parsed.path == "/state":
            with self.store.condition:
                return self.reply(200, {"resourceVersion": self.store.rv, "compactedResourceVersion": self.store.compacted_rv,
                                        "activeWatches": self.controls.active_watches,
                                        "objects": {name: sorted(objects) for name, objects in self.store.objects.items()}})
        self.reply(404, {"error": f"no control endpoint GET {parsed.path}"})

    def do_POST(self):
        try:
            self.post(urllib.parse.urlsplit(self.path).path, self.body())
        except (ValueError, KeyError, TypeError) as error:
            self.reply(400, {"error": str(error)})

    def post(self, path, body):
        store, controls = self.store, self.controls
        if path == "/apply":  # one object, or {"items": [...]}, applied in order
            objects = body.get("items") if "items" in body and "kind" not in body else [body]
            stored = [store.apply(obj) for obj in objects]
            return self.reply(200, {"resourceVersion": store.rv, "items": stored})
        if path == "/delete":  # {"kind", "namespace", "name"}
            gone = store.delete(body["kind"], body.get("namespace"), body["name"])
            return self.reply(200 if gone else 404, {"resourceVersion": store.rv, "deleted": gone is not None})
        if path == "/compact":
            return self.reply(200, {"compactedResourceVersion": store.compact()})
        if path == "/cut-watches":  # {"graceful": false}
            with store.condition:
                store.cut_generation += 1
                store.cut_graceful = bool((body or {}).get("graceful"))
                store.condition.notify_all()
            return self.reply(200, {"activeWatches": controls.active_watches})
        if path == "/bookmark":
            with store.condition:
                store.bookmark_generation += 1
                store.condition.notify_all()
            return self.reply(200, {"resourceVersion": store.rv})
        if path == "/token":  # {"token", "keepOld": false, "writeFile": true}
            controls.rotate(body["token"], bool(body.get("keepOld")), body.get("writeFile", True))
            return self.reply(200, {"ok": True})
        if path == "/faults":  # {"rules": [{"match", "watch", "delaySeconds", "status", "drop", "count"}]}
            with controls.lock:
                controls.faults = list((body or {}).get("rules") or [])
            return self.reply(200, {"rules": len(controls.faults)})
        if path == "/watch-expired-as":  # {"mode": "event" | "status"}
            mode = body["mode"]
            if mode not in ("event", "status"):
                raise ValueError("mode is event or status")
            controls.watch_expired_as = mode
            return self.reply(200, {"mode": mode})
        if path == "/clear-requests":
            with controls.lock:
                count = len(controls.requests)
            return self.reply(200, {"next": count})
        self.reply(404, {"error": f"no control endpoint POST {path}"})


class DualStackHTTPSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, handler, context):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context = context
        super().__init__(address, handler)

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-handshake or mid-stream is not the server's problem

    def get_request(self):
        connection, address = self.socket.accept()
        # The handshake runs in the request's own thread (APIHandler.setup), never here.
        return self.context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address


class ThreadingUnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        connection, _ = self.socket.accept()
        return connection, ("control", 0)


class ThreadingControlTCPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


STOPPING = threading.Event()


# --------------------------------------------------------------------------------------------
# Certificates, through the openssl command.


def run_openssl(arguments, state_dir):
    result = subprocess.run(["openssl"] + arguments, cwd=state_dir, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        sys.exit(f"fake-apiserver: openssl {' '.join(arguments)} failed: {result.stderr.strip()}")


def make_certificates(state_dir, sans):
    """A CA and a server certificate for 127.0.0.1, ::1, localhost and the --san names; kept
    when they are already there (a restarted server keeps its CA, as a real one would)."""
    paths = {name: os.path.join(state_dir, name) for name in ("ca.crt", "ca.key", "server.crt", "server.key")}
    if all(os.path.exists(path) for path in paths.values()):
        return paths
    alt_names = ["DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                 "IP:127.0.0.1", "IP:::1"]
    for san in sans:
        try:
            ipaddress.ip_address(san)
            alt_names.append(f"IP:{san}")
        except ValueError:
            alt_names.append(f"DNS:{san}")
    with open(os.path.join(state_dir, "server.ext"), "w") as handle:
        handle.write("basicConstraints=critical,CA:FALSE\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage=serverAuth\n"
                     f"subjectAltName={','.join(alt_names)}\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run_openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-subj", "/CN=nfq-lb-fake-apiserver-ca",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], state_dir)
    run_openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver"], state_dir)
    run_openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial",
                 str(int(time.time() * 1000)), "-days", "3", "-out", "server.crt", "-extfile", "server.ext"], state_dir)
    return paths


def write_client_files(state_dir, url, token, ca_path):
    """What a client needs: a token file, a kubeconfig, and a service-account directory laid out
    as in a pod (/var/run/secrets/kubernetes.io/serviceaccount)."""
    token_file = os.path.join(state_dir, "token")
    write_atomically(token_file, token)
    account = os.path.join(state_dir, "serviceaccount")
    os.makedirs(account, exist_ok=True)
    with open(ca_path) as handle:
        ca = handle.read()
    write_atomically(os.path.join(account, "ca.crt"), ca)
    write_atomically(os.path.join(account, "namespace"), "kube-system")
    # The service account's token is the same file's content, kept in step by the control API.
    if not os.path.lexists(os.path.join(account, "token")):
        os.symlink("../token", os.path.join(account, "token"))
    ca_data = base64.b64encode(ca.encode()).decode()
    kubeconfig = f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {url}
    certificate-authority: {ca_path}
users:
- name: nfq-lb
  user:
    token: {token}
contexts:
- name: fake
  context:
    cluster: fake
    user: nfq-lb
current-context: fake
"""
    write_atomically(os.path.join(state_dir, "kubeconfig"), kubeconfig)
    embedded = kubeconfig.replace(f"certificate-authority: {ca_path}", f"certificate-authority-data: {ca_data}")
    write_atomically(os.path.join(state_dir, "kubeconfig-embedded"), embedded)
    return token_file


# --------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", required=True, help="certificates, token, kubeconfig, control.sock, server.json")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free one)")
    parser.add_argument("--listen", action="append", help="address to listen on (repeatable); default 127.0.0.1 and ::1")
    parser.add_argument("--san", action="append", default=[], help="another address or name for the certificate")
    parser.add_argument("--token", default=None, help="the accepted bearer token (default: a random one)")
    parser.add_argument("--control-port", type=int, default=None, help="also serve the control API on 127.0.0.1:PORT")
    parser.add_argument("--bookmark-interval", type=float, default=5.0, help="seconds between periodic BOOKMARKs")
    parser.add_argument("--max-watch-seconds", type=float, default=1800.0, help="a watch without timeoutSeconds ends after this")
    parser.add_argument("--first-resource-version", type=int, default=100)
    parser.add_argument("--objects", default=None, help="a JSON file of objects (a list, or {items: [...]}) to start with")
    parser.add_argument("--ttl", type=float, default=600.0, help="exit after this many seconds, whatever happens")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    options = parser.parse_args()

    state_dir = os.path.abspath(options.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    listen = options.listen or ["127.0.0.1", "::1"]
    paths = make_certificates(state_dir, options.san + [address for address in listen if address not in ("0.0.0.0", "::")])
    token = options.token or uuid.uuid4().hex

    store = Store(options.first_resource_version)
    controls = Controls(token, os.path.join(state_dir, "token"))
    if options.objects:
        with open(options.objects) as handle:
            initial = json.load(handle)
        for obj in initial.get("items", []) if isinstance(initial, dict) else initial:
            store.apply(obj)
    for handler in (APIHandler, ControlHandler):
        handler.store, handler.controls, handler.options = store, controls, options

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths["server.crt"], paths["server.key"])
    context.set_alpn_protocols(["http/1.1"])

    servers = []
    port = options.port
    for address in listen:
        try:
            server = DualStackHTTPSServer((address, port), APIHandler, context)
        except OSError as error:
            if address == "::1" and options.listen is None:
                sys.stderr.write(f"fake-apiserver: not listening on ::1 ({error})\n")
                continue
            sys.exit(f"fake-apiserver: cannot listen on [{address}]:{port}: {error}")
        port = server.server_address[1]
        servers.append(server)

    control_path = os.path.join(state_dir, "control.sock")
    if os.path.exists(control_path):
        os.unlink(control_path)
    servers.append(ThreadingUnixHTTPServer(control_path, ControlHandler))
    control_port = None
    if options.control_port is not None:
        control = ThreadingControlTCPServer(("127.0.0.1", options.control_port), ControlHandler)
        control_port = control.server_address[1]
        servers.append(control)

    host = listen[0]
    url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    token_file = write_client_files(state_dir, url, token, paths["ca.crt"])
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def stop(*_):
        STOPPING.set()

    # A parent may hand down a mask that blocks SIGTERM (a test runner's threads do): unblock it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    info = {"url": url, "port": port, "pid": os.getpid(), "token": token, "tokenFile": token_file,
            "caFile": paths["ca.crt"], "kubeconfig": os.path.join(state_dir, "kubeconfig"),
            "serviceAccountDir": os.path.join(state_dir, "serviceaccount"), "controlSocket": control_path,
            "controlPort": control_port, "listen": [server.server_address[0] for server in servers[:-1 if control_port is None else -2]]}
    write_atomically(os.path.join(state_dir, "server.json"), json.dumps(info, indent=2) + "\n")
    print(f"fake-apiserver: ready at {url} (control: {control_path}), pid {os.getpid()}", flush=True)

    STOPPING.wait(timeout=options.ttl)
    with store.condition:
        store.condition.notify_all()  # the watches end their streams
    time.sleep(0.2)
    for path in (control_path, os.path.join(state_dir, "server.json")):
        try:
            os.unlink(path)
        except OSError:
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
