"""Loopback HTTP servers for the hub/streaming tests: a Range-capable static file server and a
minimal emulation of the Hugging Face Hub routes that ``snapshot_download`` uses.

Hub routes (huggingface_hub 2.x, dataset repos):
* ``GET /api/datasets/<repo>/revision/<rev>``      repo info (needs ``sha``)
* ``GET /api/datasets/<repo>/tree/<rev>[/<path>]`` file listing (``recursive``; ``type``, ``path``,
  ``size``, ``oid``), paginated by a ``Link`` header (we send one page)
* ``HEAD|GET /datasets/<repo>/resolve/<rev>/<file>`` file metadata headers
  (``X-Repo-Commit``, ``ETag``, ``Content-Length``) and contents
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.server
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def _send_file(handler: http.server.BaseHTTPRequestHandler, path: str, head: bool, extra: dict):
    """Send a file (or the byte range the request asks for) with its headers."""
    size = os.path.getsize(path)
    start, stop = 0, size
    status = 200
    header = handler.headers.get("Range")
    if header:
        m = _RANGE.match(header.strip())
        if not m or (not m.group(1) and not m.group(2)):
            handler.send_error(416, "bad range")
            return
        if m.group(1):
            start = int(m.group(1))
            stop = min(size, int(m.group(2)) + 1) if m.group(2) else size
        else:  # suffix range: the last n bytes
            start = max(0, size - int(m.group(2)))
        if start >= size or start >= stop:
            handler.send_response(416)
            handler.send_header("Content-Range", f"bytes */{size}")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        status = 206
    handler.send_response(status)
    stat = os.stat(path)
    handler.send_header("Content-Length", str(stop - start))
    handler.send_header("Accept-Ranges", "bytes")
    handler.send_header("ETag", f'"{stat.st_mtime_ns:x}-{size:x}"')
    handler.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
    if status == 206:
        handler.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
    for k, v in extra.items():
        handler.send_header(k, v)
    handler.end_headers()
    if not head:
        with open(path, "rb") as f:
            f.seek(start)
            handler.wfile.write(f.read(stop - start))


class RangeFileHandler(http.server.BaseHTTPRequestHandler):
    """Static files under ``self.server.root``, honouring single ``Range`` requests."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _serve(self, head: bool):
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        path = os.path.join(self.server.root, rel)
        self.server.requests.append((self.command, rel, self.headers.get("Range")))
        if ".." in rel.split("/") or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        _send_file(self, path, head, {})

    def do_GET(self):
        self._serve(False)

    def do_HEAD(self):
        self._serve(True)


class HubHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``self.server.root`` as dataset repo ``self.server.repo_id`` at one commit."""

    protocol_version = "HTTP/1.1"
    commit = "0123456789abcdef0123456789abcdef01234567"

    def log_message(self, *args):
        pass

    def _json(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self, what: str):
        body = json.dumps({"error": f"{what} not found"}).encode()
        self.send_response(404)
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _files(self) -> list[dict]:
        out = []
        for dirpath, _, files in os.walk(self.server.root):
            for f in sorted(files):
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, self.server.root).replace(os.sep, "/")
                with open(full, "rb") as fh:
                    oid = hashlib.sha1(fh.read()).hexdigest()
                out.append({"type": "file", "path": rel, "size": os.path.getsize(full), "oid": oid})
        return out

    def _route(self, head: bool):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        repo = self.server.repo_id
        self.server.requests.append((self.command, path))
        if path in (f"/api/datasets/{repo}", f"/api/datasets/{repo}/revision/main"):
            return self._json({"id": repo, "sha": self.commit, "private": False})
        prefix = f"/api/datasets/{repo}/tree/"
        if path.startswith(prefix):
            return self._json(self._files())
        prefix = f"/datasets/{repo}/resolve/"
        if path.startswith(prefix):
            rev, _, rel = path[len(prefix) :].partition("/")
            full = os.path.join(self.server.root, rel)
            if rev not in ("main", self.commit) or not os.path.isfile(full):
                return self._not_found(rel)
            with open(full, "rb") as fh:
                etag = hashlib.sha1(fh.read()).hexdigest()
            return _send_file(self, full, head, {"X-Repo-Commit": self.commit, "ETag": f'"{etag}"'})
        return self._not_found(path)

    def do_GET(self):
        self._route(False)

    def do_HEAD(self):
        self._route(True)


@contextlib.contextmanager
def serve(handler: type, root: str, **attrs) -> Iterator[http.server.ThreadingHTTPServer]:
    """Run ``handler`` over ``root`` on 127.0.0.1 (ephemeral port) in a thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.root = str(root)
    server.requests = []
    for k, v in attrs.items():
        setattr(server, k, v)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def url_of(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
