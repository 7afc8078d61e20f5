"""A local stand-in for Hugging Face and ModelScope: a tiny HTTP server on 127.0.0.1 serving real files.

It speaks the URL layouts the code uses (HF `/<repo>/resolve/<rev>/<path>` and `/api/models/.../paths-info/...`,
ModelScope `/api/v1/models/<repo>/repo?Revision=..&FilePath=..`), honours Range requests as both hubs' CDNs do,
and can misbehave on purpose: serve other bytes, answer 404, or cut a download short.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_PATHS_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)$")
_MS_FILE = re.compile(r"^/api/v1/models/(?P<repo>[^/]+/[^/]+)/repo$")


@dataclass
class Hub:
    files: dict[tuple[str, str, str], bytes] = field(default_factory=dict)  # (repo, revision, path) -> bytes
    lfs: set[str] = field(default_factory=set)  # paths the paths-info API reports as LFS, with their sha256
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the connection drops, once
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    url: str = ""

    def add(self, repo: str, revision: str, path: str, data: bytes) -> None:
        self.files[(repo, revision, path)] = data

    def downloads_of(self, path: str) -> list[str | None]:
        return [rng for p, rng in self.requests if p == path]


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve_file(self, repo: str, rev: str, path: str) -> None:
            hub.requests.append((path, self.headers.get("Range")))
            data = hub.files.get((repo, rev, path))
            if data is None:
                self._send(404, b"Entry not found")
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if match:
                start = int(match.group(1))
            body = data[start:]
            self.send_response(206 if match else 200)
            if match:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = hub.cut_after.pop(path, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's method name
            parsed = urllib.parse.urlparse(self.path)
            resolve = _RESOLVE.match(urllib.parse.unquote(parsed.path))
            if resolve:
                self._serve_file(resolve["repo"], resolve["rev"], resolve["path"])
                return
            ms = _MS_FILE.match(parsed.path)
            if ms:
                query = urllib.parse.parse_qs(parsed.query)
                self._serve_file(ms["repo"], query["Revision"][0], query["FilePath"][0])
                return
            self._send(404, b"no route")

        def do_POST(self) -> None:  # noqa: N802
            match = _PATHS_INFO.match(urllib.parse.urlparse(self.path).path)
            if not match:
                self._send(404, b"no route")
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            infos = []
            for path in form.get("paths", []):
                data = hub.files.get((match["repo"], match["rev"], path))
                if data is None:
                    continue
                info = {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                if path in hub.lfs:
                    info["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                infos.append(info)
            self._send(200, json.dumps(infos).encode(), {"Content-Type": "application/json"})

    return Handler


class HubServer:
    """Start with `with HubServer() as hub:`; hub.url is http://127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.hub = Hub()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.hub))
        self.hub.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Hub:
        self._thread.start()
        return self.hub

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()
