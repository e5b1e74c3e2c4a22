"""One registry, spoken to over oras's HTTP session with the distribution spec's auth.

oras 0.2.43 finds the credentials (Docker config, credential helpers) and fetches bearer tokens;
this module sends the requests itself, on the same kind of session oras uses, because oras's own
request path does not fit a gate: it retries any failure for minutes with sleeps, re-serialises
manifests (changing their digest), reads whole blobs into memory on upload, and follows redirects
with its headers.

Rules kept here:
- credentials (Basic or a bearer token) go only to the registry's own origin; a redirect to another
  host (a blob store) is followed without them, and HTTPS is never downgraded to HTTP;
- ``~/.netrc`` is never consulted (the session's auth is a no-op), so no other secret leaks;
- a 401 answer is retried once with credentials; a second 401 is a clear error naming where the
  credentials came from, never what they are;
- every failure is a ``RegistryError`` (exit 2) naming the registry and what was attempted.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from scanner import jsonfile
from scanner.errors import ScanError
from scanner.registry import mediatypes as mt
from scanner.registry.credentials import CredentialSource, load_into
from scanner.registry.manifest import Manifest, parse_manifest
from scanner.registry.options import RegistryOptions

if TYPE_CHECKING:
    import requests

MAX_REDIRECTS = 5
MAX_ERROR_BODY = 16 << 10
CHUNK = 1 << 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

MAX_REFERRER_PAGES = 64  # pages of one referrers listing (each one request)
ACCEPT_INDEX = {"Accept": mt.OCI_INDEX}


class RegistryError(ScanError):
    """A registry operation failed (exit 2)."""


class NotFound(RegistryError):
    """The registry answered 404 (no such manifest, blob, tag or API)."""


class AuthError(RegistryError):
    """Authentication was needed and failed."""


class _NoAuth:
    """Stops requests from adding ``~/.netrc`` credentials to any request."""

    def __call__(self, request: Any) -> Any:
        return request


def clean(text: str, limit: int = 200) -> str:
    """Registry-supplied text made safe for one terminal line."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Client:
    """Requests to one registry host. ``bytes_in``/``bytes_out`` count blob bytes moved."""

    def __init__(self, registry: str, options: RegistryOptions) -> None:
        from http.cookiejar import DefaultCookiePolicy

        import oras.auth
        import requests

        self.registry = registry
        self.options = options
        self.scheme = "http" if options.plain_http else "https"
        # The session and token backend oras.provider.Registry builds, without importing
        # oras.provider (it pulls jsonschema: seconds of start-up for nothing used here).
        self.session: requests.Session = requests.Session()
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # as oras: no cookies
        self.session.auth = _NoAuth()
        self._backend = oras.auth.get_auth_backend("token", self.session, options.plain_http, tls_verify=True)
        self.credentials: CredentialSource = load_into(self._backend, registry)
        self._authorization: str | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    # -- plumbing ---------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.registry}{path}"

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme == self.scheme and parts.netloc.lower() == self.registry.lower()

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        ok: Iterable[int] = (200,),
    ) -> requests.Response:
        """Send a request (``path`` relative to the registry, or an absolute URL it gave us) and
        return the response when its status is in ``ok``; otherwise raise, naming ``what``."""
        url = path if "://" in path else self.url(path)
        response = self._send(method, url, headers, data, stream, what)
        if response.status_code == 401:
            if data is not None and not isinstance(data, (bytes, str)):
                response.close()
                raise AuthError(f"{self.registry}: {what}: authentication needed mid-upload")
            self._authorize(response, what)
            response.close()
            response = self._send(method, url, headers, data, stream, what)
            if response.status_code == 401:
                response.close()
                raise AuthError(f"{self.registry}: authentication failed ({self.credentials.describe()})", hint=what)
        if response.status_code not in tuple(ok):
            raise self._error(response, what)
        return response

    def _send(
        self, method: str, url: str, headers: dict[str, str] | None, data: Any, stream: bool, what: str
    ) -> requests.Response:
        import requests

        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers or {})
            if self._authorization and self._same_origin(url):
                sent["Authorization"] = self._authorization
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=sent,
                    data=data,
                    stream=stream,
                    allow_redirects=False,
                    timeout=self.options.timeout,
                )
            except requests.exceptions.SSLError as exc:
                raise RegistryError(
                    f"{self.registry}: TLS failed ({clean(str(exc), 120)})",
                    hint="use --plain-http for a registry without TLS",
                ) from None
            except requests.exceptions.RequestException as exc:
                raise RegistryError(f"{self.registry}: cannot reach the registry: {_reason(exc)}", hint=what) from None
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                return response
            response.close()
            target = urljoin(url, location)
            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                raise RegistryError(f"{self.registry}: refused a redirect from HTTPS to {urlsplit(target).scheme}")
            if data is not None and not isinstance(data, (bytes, str)):
                raise RegistryError(f"{self.registry}: {what}: redirected during a streamed upload")
            if response.status_code == 303:
                method, data = "GET", None
            url = target
        raise RegistryError(f"{self.registry}: too many redirects", hint=what)

    def _authorize(self, response: requests.Response, what: str) -> None:
        """Answer a 401 challenge: Basic with the credentials, or a bearer token from the realm."""
        from oras.auth.utils import parse_auth_header

        challenge = response.headers.get("WWW-Authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        basic = getattr(self._backend, "_basic_auth", None)
        if scheme == "basic":
            if not basic:
                raise AuthError(f"{self.registry}: the registry needs a login ({self.credentials.describe()})")
            self._authorization = f"Basic {basic}"
            return
        if scheme != "bearer":
            raise AuthError(f"{self.registry}: unsupported authentication challenge {clean(scheme, 40)!r}", hint=what)
        header = parse_auth_header(challenge)
        realm = urlsplit(header.realm or "")
        if realm.scheme not in ("http", "https") or not realm.netloc:
            raise AuthError(f"{self.registry}: bearer challenge without a usable token realm")
        same_host = realm.hostname == urlsplit(f"//{self.registry}").hostname
        if basic and realm.scheme == "http" and not (self.options.plain_http and same_host):
            # plain HTTP carries the password in the clear: only to the host the user already
            # chose to reach over plain HTTP (--plain-http), never to another one
            raise AuthError(f"{self.registry}: refused to send credentials to a token service over plain HTTP")
        token = self._backend.request_token(header) if basic else self._backend.request_anonymous_token(header)
        if not token:
            raise AuthError(
                f"{self.registry}: the token service refused access ({self.credentials.describe()})", hint=what
            )
        self._authorization = f"Bearer {token}"

    def _error(self, response: requests.Response, what: str) -> RegistryError:
        status = response.status_code
        detail = ""
        try:
            if response._content_consumed:
                body = (response.content or b"")[:MAX_ERROR_BODY]
            else:
                body = response.raw.read(MAX_ERROR_BODY, decode_content=True) if response.raw else b""

            errors = jsonfile.loads(body).get("errors") or []
            detail = "; ".join(
                f"{e.get('code', '')}: {e.get('message', '')}" for e in errors[:3] if isinstance(e, dict)
            )
        except Exception:  # any body that is not an OCI error document
            detail = ""
        finally:
            response.close()
        text = f"{self.registry}: {what}: HTTP {status}" + (f" ({clean(detail)})" if detail else "")
        if status == 404:
            return NotFound(text)
        if status == 403:
            return AuthError(f"{text}: access denied ({self.credentials.describe()})")
        return RegistryError(text)

    # -- manifests --------------------------------------------------------------------------
    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest's exact bytes, read within the manifest budget and checked against the
        digest asked for (or the registry's ``Docker-Content-Digest``)."""
        what = (
            f"get manifest {repository}:{reference}"
            if ":" not in reference
            else f"get manifest {repository}@{reference}"
        )
        response = self.request(
            "GET", f"/v2/{repository}/manifests/{reference}", what=what, headers={"Accept": mt.ACCEPT}, stream=True
        )
        limit = self.options.max_manifest_size
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            response.close()
            raise RegistryError(f"{self.registry}: manifest {repository}@{reference} is larger than {limit} bytes")
        raw = bytearray()
        with response:
            for chunk in response.iter_content(CHUNK):
                raw += chunk
                if len(raw) > limit:
                    raise RegistryError(
                        f"{self.registry}: manifest {repository}@{reference} is larger than {limit} bytes"
                    )
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        expected = reference if reference.startswith("sha256:") else response.headers.get("Docker-Content-Digest")
        if expected and expected.startswith("sha256:") and expected != digest:
            raise RegistryError(
                f"{self.registry}: manifest {repository}@{reference} does not match its digest ({digest})"
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return parse_manifest(bytes(raw), content_type, where=f"{self.registry}/{repository}@{digest}")

    def resolve(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at now, or None when the tag does not exist."""
        try:
            return self.get_manifest(repository, reference).digest
        except NotFound:
            return None

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        """Store the exact bytes under ``reference`` (its digest, or a tag, which moves)."""
        response = self.request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            what=f"push manifest {repository}:{reference}",
            headers={"Content-Type": manifest.media_type},
            data=manifest.raw,
            ok=(200, 201),
        )
        returned = response.headers.get("Docker-Content-Digest")
        response.close()
        if returned and returned != manifest.digest:
            raise RegistryError(
                f"{self.registry}: registry stored {repository} manifest as {returned}, expected {manifest.digest}"
            )

    def tags(self, repository: str) -> list[str]:
        """Every tag of the repository (following ``Link`` pages); [] when it does not exist."""

        found: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list?n=1000"
        while path:
            try:
                response = self.request("GET", path, what=f"list tags of {repository}", stream=True)
            except NotFound:
                return found
            with response:
                try:
                    doc = jsonfile.loads(response.raw.read(self.options.max_manifest_size + 1, decode_content=True))
                except ValueError:
                    raise RegistryError(f"{self.registry}: tag list of {repository} is not JSON") from None
            found.extend(t for t in (doc.get("tags") or []) if isinstance(t, str))
            link = response.headers.get("Link", "")
            match = re.match(r"\s*<([^>]+)>", link)
            path = match.group(1) if match else None
            if path and "://" in path and not self._same_origin(path):
                raise RegistryError(f"{self.registry}: tag list pagination points to another host")
        return found

    def referrers(self, repository: str, digest: str) -> Manifest | None:
        """The OCI 1.1 referrers API's index, or None when the registry does not answer it
        (distribution 2.8: 404) — then the tag schema is used. A listing the registry spreads over
        pages (``Link: <…>; rel="next"``) is read to its end, within ``MAX_REFERRER_PAGES`` pages
        and ``max_manifest_size`` bytes in all; the returned index lists every page's entries."""
        from dataclasses import replace

        where = f"{self.registry}/{repository} referrers of {digest}"
        first: Manifest | None = None
        listed: list[Any] = []
        budget = self.options.max_manifest_size
        path: str | None = f"/v2/{repository}/referrers/{digest}"
        for _ in range(MAX_REFERRER_PAGES):
            assert path is not None
            try:
                response = self.request(
                    "GET", path, what=f"referrers of {repository}@{digest}", headers=ACCEPT_INDEX, stream=True
                )
            except NotFound:
                if first is None:
                    return None
                raise RegistryError(f"{where}: a page of the listing is missing") from None
            with response:
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                raw = response.raw.read(budget + 1, decode_content=True)
                link = response.headers.get("Link", "")
            if content_type != mt.OCI_INDEX:
                if first is None:
                    return None
                raise RegistryError(f"{where}: a page of the listing is a {content_type or 'response without type'}")
            # the registry answered the API: a listing too large to read is not "no referrers"
            # (the tag schema would then be read instead, and evidence attached to the digest
            # silently left out)
            budget -= len(raw)
            if budget < 0:
                raise RegistryError(
                    f"{where}: listed in more than {self.options.max_manifest_size} bytes: the evidence about it "
                    "cannot all be examined"
                )
            page = parse_manifest(raw, content_type, where=where)
            first = first or page
            listed.extend(page.manifests)
            path = self._next_page(link, repository, digest)
            if path is None:
                return replace(first, manifests=tuple(listed))
        raise RegistryError(
            f"{where}: listed over more than {MAX_REFERRER_PAGES} pages: the evidence about it cannot all be examined"
        )

    def _next_page(self, link: str, repository: str, digest: str) -> str | None:
        """The next page of a referrers listing (``Link: <URL>; rel="next"``): on this registry
        and this listing only — credentials are never sent elsewhere."""
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', link)
        if not match:
            return None
        target = urljoin(self.url(f"/v2/{repository}/referrers/{digest}"), match.group(1))
        parts = urlsplit(target)
        if not self._same_origin(target) or unquote(parts.path) != f"/v2/{repository}/referrers/{digest}":
            raise RegistryError(f"{self.registry}/{repository}: the referrers listing of {digest} continues elsewhere")
        return target

    # -- blobs ------------------------------------------------------------------------------
    def blob_exists(self, repository: str, digest: str) -> bool:
        try:
            self.request("HEAD", f"/v2/{repository}/blobs/{digest}", what=f"check blob {digest}").close()
        except NotFound:
            return False
        return True

    def open_blob(self, repository: str, digest: str) -> requests.Response:
        """A streamed GET of the blob (the caller verifies what it reads)."""
        return self.request(
            "GET", f"/v2/{repository}/blobs/{digest}", what=f"get blob {repository}@{digest}", stream=True
        )

    def mount_blob(self, repository: str, source_repository: str, digest: str) -> bool:
        """Cross-repository mount: True when the registry linked the blob without any bytes moving."""
        response = self.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/?mount={digest}&from={source_repository}",
            what=f"mount blob {digest} from {source_repository} into {repository}",
            headers={"Content-Length": "0"},
            ok=(201, 202),
        )
        mounted = response.status_code == 201
        location = response.headers.get("Location")
        response.close()
        if not mounted and location:  # an upload session was opened instead: cancel it
            with contextlib.suppress(RegistryError):
                self.request("DELETE", location, what="cancel upload", ok=(200, 202, 204, 404)).close()
        return mounted

    def upload_blob(self, repository: str, digest: str, size: int, body: Any) -> None:
        """Monolithic upload: POST opens a session, one PUT streams ``body`` (bytes, or a readable
        with a length) with the digest; the registry checks it and refuses a mismatch. An empty
        blob goes as an empty body: a readable of length 0 would be sent chunked beside a zero
        ``Content-Length``, and the registry waits for a body that never comes."""
        response = self.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            what=f"start upload to {repository}",
            headers={"Content-Length": "0"},
            ok=(202,),
        )
        location = response.headers.get("Location")
        response.close()
        if not location:
            raise RegistryError(f"{self.registry}: upload to {repository} started without a Location")
        target = urljoin(self.url(f"/v2/{repository}/blobs/uploads/"), location)
        if not self._same_origin(target):
            raise RegistryError(f"{self.registry}: upload location points to another host")
        target += ("&" if "?" in target else "?") + f"digest={digest}"
        self.request(
            "PUT",
            target,
            what=f"upload blob {digest} to {repository}",
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            data=body if size else b"",
            ok=(201, 204),
        ).close()
        self.bytes_out += size


def _reason(exc: Exception) -> str:
    """The innermost reason of a requests/urllib3 error (``Connection refused``), one line."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^')\]]+)", text)
    if match:
        return clean(match.group(1), 80)
    for marker in ("Connection aborted", "Read timed out", "RemoteDisconnected", "Connection reset"):
        if marker in text:
            return marker.lower()
    return clean(type(exc).__name__ + ": " + text, 160)
