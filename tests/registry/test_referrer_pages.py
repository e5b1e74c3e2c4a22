"""A referrers listing spread over pages (OCI distribution: ``Link: <…>; rel="next"``). Our
docker-registry has no referrers API, so a small HTTP server on 127.0.0.1 answers the two
endpoints the gate's listing uses (a tag's manifest, the referrers pages) the way the
distribution spec describes. Evidence on a second page must be read, never left out."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from scanner.registry import mediatypes as mt
from scanner.registry.client import RegistryError

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(), "size": 2},
        "layers": [],
    }
).encode()
SUBJECT = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


def _note(i: int) -> dict:
    return {
        "mediaType": mt.OCI_MANIFEST,
        "digest": "sha256:" + hashlib.sha256(b"%d" % i).hexdigest(),
        "size": 2,
        "artifactType": "text/x-note",
    }


class Pages:
    """``pages`` lists of descriptors; ``next_link(i)`` the Link value after page i."""

    def __init__(self, pages: list[list[dict]], next_link=None) -> None:
        self.pages = pages
        # the second link spells the digest's colon as %3A, as some registries do
        self.next_link = next_link or (
            lambda i: f'</v2/repo/referrers/{SUBJECT.replace(":", "%3A") if i else SUBJECT}?page={i + 1}>; rel="next"'
        )


@pytest.fixture
def server() -> Iterator[tuple[str, dict]]:
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, body: bytes, content_type: str, headers: dict | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            path = unquote(path)
            if path == "/v2/repo/manifests/v1":
                self._send(MANIFEST, mt.OCI_MANIFEST, {"Docker-Content-Digest": SUBJECT})
            elif path == f"/v2/repo/referrers/{SUBJECT}":
                pages: Pages = state["pages"]
                i = int(query.removeprefix("page=")) if query.startswith("page=") else 0
                body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": pages.pages[i]})
                headers = {"Link": pages.next_link(i)} if i + 1 < len(pages.pages) else {}
                self._send(body.encode(), mt.OCI_INDEX, headers)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def _resolve(host: str):
    from scanner.options import RegistryOptions
    from scanner.registry.identity import resolve

    return resolve(f"oci://{host}/repo:v1", RegistryOptions(plain_http=True))


def test_every_page_of_a_referrers_listing_is_read(server) -> None:
    from scanner.registry.identity import referrers_digest
    from scanner.registry.manifest import Descriptor

    host, state = server
    notes = [_note(i) for i in range(5)]
    state["pages"] = Pages([notes[:2], notes[2:4], notes[4:]])
    identity = _resolve(host)
    assert identity.digest == SUBJECT and identity.count == 5
    assert identity.referrers == referrers_digest([Descriptor.from_json(n, "test") for n in notes])


def test_a_listing_that_continues_on_another_host_or_past_the_limit_is_an_error(server) -> None:
    host, state = server
    state["pages"] = Pages([[_note(0)], [_note(1)]], lambda i: '<http://elsewhere.invalid/v2/x>; rel="next"')
    with pytest.raises(RegistryError, match="continues elsewhere"):
        _resolve(host)
    # 257 referrers over two pages: more than the gate reads, so not judged on part of them
    state["pages"] = Pages([[_note(i) for i in range(200)], [_note(i) for i in range(200, 257)]])
    with pytest.raises(RegistryError, match="257 referrers"):
        _resolve(host)
