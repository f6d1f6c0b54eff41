"""One registry endpoint over ``requests``: answers 401 challenges (bearer token from the ``realm``, or basic),
caches tokens per scope, and turns error responses into engine errors with the registry's own message."""
from __future__ import annotations

import ssl
import threading
import warnings
from typing import Any, Iterable

import requests
import urllib3

from runtime.errors import NotFound
from runtime.images.registry.auth import Credentials, parse_challenge
from runtime.images.registry.config import Endpoint
from runtime.images.registry.errors import RegistryError, RegistryUnreachable, Unauthorized

__all__ = ["RegistrySession", "USER_AGENT", "open_session"]

USER_AGENT = "pycompose/0.1"


class RegistrySession:
    def __init__(self, endpoint: Endpoint, credentials: Credentials | None, *, timeout: float = 60.0,
                 pool_size: int = 8) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        adapter: requests.adapters.HTTPAdapter
        if endpoint.verify is False:  # an insecure registry, by configuration: no warning per request
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
            adapter = _UnverifiedAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        else:
            adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self._lock = threading.Lock()
        self._tokens: dict[frozenset[str], str] = {}
        self._basic = False

    def close(self) -> None:
        self.http.close()

    def tls(self, url: str | None = None) -> dict[str, Any]:
        """``verify``/``cert`` for a request to ``url`` (the registry by default). Given per request because
        ``REQUESTS_CA_BUNDLE`` in the environment overrides a session-wide ``verify``."""
        if url is not None and not url.startswith(self.endpoint.base_url):
            return {}
        return {"verify": self.endpoint.verify, "cert": self.endpoint.cert}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """A plain GET on the registry (no auth handling), with its TLS settings."""
        kwargs.setdefault("timeout", self.timeout)
        return self.http.get(self.url(path), **self.tls(), **kwargs)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.endpoint.base_url}{path}"

    def request(self, method: str, path: str, *, scopes: Iterable[str] = (), ok: Iterable[int] = (200,),
                **kwargs: Any) -> requests.Response:
        """Send a request; on 401 authenticate (once) and resend. Raises unless the status is in ``ok``."""
        scope_set = frozenset(scopes)
        kwargs.setdefault("timeout", self.timeout)
        resp = self._send(method, path, scope_set, kwargs)
        if resp.status_code == 401:
            challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
            if challenge is not None and self._authenticate(challenge, scope_set):
                resp.close()
                body = kwargs.get("data")
                if body is not None and hasattr(body, "seek"):
                    body.seek(0)
                resp = self._send(method, path, scope_set, kwargs)
        ok_set = set(ok)
        if resp.status_code not in ok_set:
            self.raise_for(resp, f"{method} {path}")
        return resp

    def _send(self, method: str, path: str, scopes: frozenset[str], kwargs: dict[str, Any]) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        with self._lock:
            token = self._tokens.get(scopes)
        auth = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self._basic and self.credentials:
            auth = (self.credentials.username, self.credentials.password)
        try:
            resp = self.http.request(method, self.url(path), headers=headers, auth=auth, **self.tls(self.url(path)),
                                     **kwargs)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise RegistryUnreachable(f"{self.endpoint.base_url}: {_reason(err)}") from err
        except requests.RequestException as err:
            raise RegistryError(f"{self.endpoint.base_url}: {err}") from err
        kwargs["headers"] = headers
        return resp

    def _authenticate(self, challenge, scopes: frozenset[str]) -> bool:
        if challenge.scheme == "basic":
            if not self.credentials:
                return False
            self._basic = True
            return True
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            return False
        token = self.fetch_token(challenge.params, scopes)
        with self._lock:
            self._tokens[scopes] = token
        return True

    def fetch_token(self, params: dict[str, str], scopes: Iterable[str]) -> str:
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        wanted = set(scopes)
        if params.get("scope"):
            wanted.update(params["scope"].split(" "))
        query += [("scope", s) for s in sorted(wanted)]
        auth = None
        if self.credentials:
            auth = (self.credentials.username, self.credentials.password)
            query.append(("account", self.credentials.username))
        try:
            resp = self.http.get(params["realm"], params=query, auth=auth, timeout=self.timeout,
                                 **self.tls(params["realm"]))
        except requests.RequestException as err:
            raise RegistryError(f"token server {params['realm']}: {err}") from err
        if resp.status_code in (401, 403):
            raise Unauthorized(f"unauthorized: {_message(resp) or 'incorrect username or password'}")
        if resp.status_code != 200:
            raise RegistryError(f"token server {params['realm']}: HTTP {resp.status_code}: {_message(resp)}")
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"token server {params['realm']} returned no token")
        return str(token)

    def raise_for(self, resp: requests.Response, what: str) -> None:
        message = _message(resp)
        if resp.status_code in (401, 403):
            raise Unauthorized(f"{what}: unauthorized: {message or 'authentication required'}")
        if resp.status_code == 404:
            raise NotFound(f"{what}: {message or 'not found'}")
        raise RegistryError(f"{what}: HTTP {resp.status_code}: {message}")


class _UnverifiedAdapter(requests.adapters.HTTPAdapter):
    """For a registry whose certificate is not checked: one TLS context of its own, without the system's CA
    certificates. (urllib3 otherwise builds a context and loads every CA certificate for each connection, ~25 ms
    of CPU, only to then ignore them; that is most of the cost of probing HTTPS on a loopback registry.)"""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        kwargs["ssl_context"] = context
        super().init_poolmanager(*args, **kwargs)


def open_session(endpoints: list[Endpoint], credentials: Credentials | None, *, timeout: float,
                 pool_size: int = 8) -> RegistrySession:
    """A session on the first endpoint that answers ``GET /v2/`` at all (any status). Endpoints marked
    ``fallback`` that cannot be reached (no TLS on an insecure registry) give way to the next one."""
    last: Exception | None = None
    for endpoint in endpoints:
        session = RegistrySession(endpoint, credentials, timeout=timeout, pool_size=pool_size)
        try:
            session.get("/v2/").close()
            return session
        except (requests.ConnectionError, requests.Timeout) as err:
            session.close()
            last = RegistryUnreachable(f"{endpoint.base_url}: {_reason(err)}")
            if not endpoint.fallback:
                break
    assert last is not None
    raise last


def _reason(err: Exception) -> str:
    """The innermost cause of a requests/urllib3 error, without the wrapper noise."""
    while err.__cause__ is not None or (err.args and isinstance(err.args[0], Exception)):
        inner = err.__cause__ if err.__cause__ is not None else err.args[0]
        if inner is err:
            break
        err = inner  # type: ignore[assignment]
    if isinstance(err, ssl.SSLError):
        return f"TLS: {err}"
    reason = getattr(err, "reason", None)
    return str(reason if reason is not None else err)


def _message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:200]
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(f"{e.get('code', '').lower().replace('_', ' ')}: {e.get('message', '')}".strip(": ")
                         for e in errors if isinstance(e, dict))
    if isinstance(body, dict) and body.get("details"):
        return str(body["details"])
    return resp.text.strip()[:200]
