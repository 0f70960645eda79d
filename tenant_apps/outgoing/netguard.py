"""One HTTP POST to a webhook endpoint, safe against SSRF and slow receivers (stdlib only).

* The host is resolved here, at delivery time; every address it resolves to must be public (not
  private, loopback, link-local - which includes the 169.254.169.254 metadata service -, multicast,
  reserved, unspecified, shared/CGNAT or otherwise non-global). The socket then connects to the very
  address that was checked: there is no second lookup an attacker's DNS could answer differently.
* TLS still verifies the certificate against the host name (SNI + hostname check).
* Redirects are not followed (a 3xx is a failed attempt).
* One deadline covers connect, TLS, sending and reading; every socket operation gets the time left.
* At most `max_bytes` of the response are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class DeliveryRefused(Exception):
    """The target is not allowed (scheme, address); `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class HttpResult:
    status: int
    body: bytes
    truncated: bool


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_loopback: bool) -> str | None:
    """Why `ip` may not be contacted, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    if ip in METADATA_ADDRESSES:
        return "metadata"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not_global"
    return None


def url_refusal(url: str, *, allow_http: bool) -> str | None:
    """Static check of a URL (at registration and again at delivery)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "invalid_url"
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_http):
        return "https_required"
    if not parts.hostname:
        return "invalid_url"
    if parts.username or parts.password:
        return "credentials_in_url"
    return None


def resolve_checked(host: str, port: int, *, allow_loopback: bool) -> list[tuple[int, str]]:
    """All (family, address) pairs of `host`; refused unless every one of them is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryRefused("dns_failed", f"Could not resolve {host}: {exc}") from exc
    seen: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        ip = ipaddress.ip_address(address)
        reason = address_refusal(ip, allow_loopback=allow_loopback)
        if reason is not None:
            raise DeliveryRefused("address_refused", f"{host} resolves to a {reason} address ({ip}); refused.")
        if (family, address) not in seen:
            seen.append((family, address))
    if not seen:
        raise DeliveryRefused("dns_failed", f"{host} has no address.")
    return seen


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to one already-checked address, whatever the Host header says."""

    def __init__(self, host: str, port: int, *, address: str, deadline: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=max(0.001, deadline - time.monotonic()))
        self._address = address
        self._deadline = deadline
        self._tls = tls

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), timeout=_remaining(self._deadline))
        if self._tls is not None:
            sock.settimeout(_remaining(self._deadline))
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("delivery deadline exceeded")
    return left


def post(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    max_bytes: int,
    allow_http: bool,
    allow_loopback: bool,
) -> HttpResult:
    """POST `body` to `url`. Raises DeliveryRefused (not allowed), OSError/TimeoutError/HTTPException
    (network trouble); any HTTP status is returned, 3xx included (redirects are never followed)."""
    refusal = url_refusal(url, allow_http=allow_http)
    if refusal is not None:
        raise DeliveryRefused(refusal, f"The URL is not allowed ({refusal}).")
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    addresses = resolve_checked(host, port, allow_loopback=allow_loopback)
    context = ssl.create_default_context() if tls else None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    last_error: Exception | None = None
    for _family, address in addresses:
        conn = _PinnedConnection(host, port, address=address, deadline=deadline, tls=context)
        try:
            try:
                conn.connect()
            except (ConnectionRefusedError, ConnectionResetError) as exc:  # try the host's next address
                last_error = exc
                continue
            sock = conn.sock  # kept: http.client drops conn.sock when the response says "close"
            sock.settimeout(_remaining(deadline))
            conn.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host_header)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            sock.settimeout(_remaining(deadline))
            response = conn.getresponse()
            chunks: list[bytes] = []
            received = 0
            truncated = False
            while received < max_bytes:
                sock.settimeout(_remaining(deadline))
                chunk = response.read1(min(65536, max_bytes - received))
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
            else:
                truncated = True
            response.close()
            return HttpResult(status=response.status, body=b"".join(chunks), truncated=truncated)
        finally:
            conn.close()
    assert last_error is not None
    raise last_error
