"""A local stand-in for Hugging Face and ModelScope: a tiny HTTP server on 127.0.0.1 serving real files.

It speaks the URL layouts the code uses (HF `/<repo>/resolve/<rev>/<path>` and `/api/models/.../paths-info/...`,
ModelScope `/api/v1/models/<repo>/repo?Revision=..&FilePath=..` and `/api/v1/models/<repo>/commits?Ref=..`),
honours Range requests as both hubs' CDNs do, and can misbehave on purpose: serve other bytes, answer 404, cut
a download short, announce or stream more than the file, state no length, trickle, or answer 416 to a range.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests import loopback

_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_PATHS_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)$")
_MS_FILE = re.compile(r"^/api/v1/models/(?P<repo>[^/]+/[^/]+)/repo$")
_MS_COMMITS = re.compile(r"^/api/v1/models/(?P<repo>[^/]+/[^/]+)/commits$")


@dataclass
class Hub:
    files: dict[tuple[str, str, str], bytes] = field(default_factory=dict)  # (repo, revision, path) -> bytes
    lfs: set[str] = field(default_factory=set)  # paths the paths-info API reports as LFS, with their sha256
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the connection drops, once
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    url: str = ""
    # Misbehaviour, per path: announce this Content-Length (and stream that many bytes, or until the client stops);
    # send no Content-Length and close after the body plus `extra` bytes; answer 416 to every Range; wait this
    # many seconds between bytes.
    announce: dict[str, int] = field(default_factory=dict)
    no_length: dict[str, int] = field(default_factory=dict)
    refuse_ranges: set[str] = field(default_factory=set)
    trickle: dict[str, float] = field(default_factory=dict)
    # ModelScope branch heads: (repo, branch) -> commit ids, one per listing asked for (the last one repeats).
    heads: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)  # path -> bytes the server managed to send
    gone: set[str] = field(default_factory=set)  # paths paths-info lists but a download answers 404 for

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
            if data is None or path in hub.gone:
                self._send(404, b"Entry not found")
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if match and path in hub.refuse_ranges:
                self._send(416, b"")
                return
            if match:
                start = int(match.group(1))
            body = data[start:]
            if path in hub.announce or path in hub.no_length or path in hub.trickle:
                self._misbehave(path, body)
                return
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

        def _misbehave(self, path: str, body: bytes) -> None:
            self.send_response(200)
            if path in hub.announce:
                self.send_header("Content-Length", str(hub.announce[path]))
            elif path in hub.trickle:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            hub.written[path] = 0
            stream = body + b"\0" * (hub.no_length.get(path, 0) if path in hub.no_length else 0)
            try:
                if path in hub.announce:
                    stream = body + b"\0" * min(hub.announce[path] - len(body), 64 << 20)
                for start in range(0, len(stream), 1 if path in hub.trickle else 65536):
                    piece = stream[start : start + (1 if path in hub.trickle else 65536)]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    hub.written[path] += len(piece)
                    if path in hub.trickle:
                        time.sleep(hub.trickle[path])
            except OSError:  # the client stopped reading: what a careful client does
                pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's method name
            parsed = urllib.parse.urlparse(self.path)
            commits = _MS_COMMITS.match(parsed.path)
            if commits:
                ref = urllib.parse.parse_qs(parsed.query)["Ref"][0]
                ids = hub.heads.get((commits["repo"], ref))
                if not ids:
                    self._send(404, b'{"Code": 404, "Message": "no such ref"}')
                    return
                head = ids.pop(0) if len(ids) > 1 else ids[0]
                answer = {"Code": 200, "Data": {"Commit": [{"Id": head, "Title": "update"}]}, "TotalCount": 1}
                self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
                return
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

    def __enter__(self) -> Hub:
        loopback.start(self._server)
        return self.hub

    def __exit__(self, *_exc) -> None:
        loopback.stop(self._server)
