"""Outbound HTTP guarded against SSRF: every address checked, every connection pinned to it.

A host is resolved once, every address it resolves to is checked, and the request connects to
the vetted address itself (Host header and TLS SNI keep the name), so a name that resolves
differently the second time cannot slip through. Redirects are followed by hand, each hop
checked again. OWLGRID_OUTBOUND_ALLOWLIST (hosts, addresses or CIDR ranges) opens exceptions.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from django.conf import settings

if TYPE_CHECKING:  # imported on first send: idle workers and web processes stay lean
    import httpx

CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
METADATA_NAMES = {"metadata.google.internal", "metadata", "instance-data"}
MAX_REDIRECTS = 5

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(Exception):  # noqa: N818 - reads as what happened
    """An outbound request to an address OwlGrid refuses to reach."""


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in a mapped, 6to4, NAT64 or Teredo IPv6 address."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64 or address in NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: Address) -> str | None:
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = refusal_reason(inner)
        return f"{reason} (embedded in {address})" if reason else None
    checks = [
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address (cloud metadata lives there)"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in CGNAT,
         "a carrier-grade NAT address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    ]
    return next((reason for failed, reason in checks if failed), None)


def allowlisted(host: str, address: Address | None) -> bool:
    for entry in settings.OWLGRID_OUTBOUND_ALLOWLIST:
        if entry.lower() == host.lower():
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundRefused(f"cannot resolve {host}: {exc.strerror}") from None
    # An IP family's sockaddr starts with the address text (typeshed allows an int for others).
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def vet(url: str) -> tuple[str, Address]:
    """Check a URL; returns (host, the address to connect to) or raises OutboundRefused."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundRefused(f"only absolute http(s) URLs may be called, not {url!r}")
    return vet_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def vet_host(host: str, port: int) -> tuple[str, Address]:
    """Check a host name or address for any outbound socket (HTTP, SMTP...); returns (host,
    the address to connect to) or raises OutboundRefused before any connection is tried, so
    that a refused address never tells an open port from a closed one."""
    if host.lower().rstrip(".") in METADATA_NAMES and not allowlisted(host, None):
        raise OutboundRefused(f"{host} is a cloud metadata name")
    addresses = resolve(host, port)
    for address in addresses:
        reason = refusal_reason(address)
        if reason and not allowlisted(host, address):
            raise OutboundRefused(f"{host} resolves to {address}, {reason}")
    return host, addresses[0]


def pinned_url(url: str, address: Address) -> str:
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def send(
    method: str,
    url: str,
    *,
    timeout: float,
    follow_redirects: bool = True,
    sensitive_headers: frozenset[str] = frozenset(),
    **kwargs: Any,
) -> httpx.Response:
    """Send one request (and its redirects, at most MAX_REDIRECTS), every hop vetted and
    pinned. The URL's own query is kept, merged with `params`, and sent once: a redirect's
    target is used as given. A redirect to another scheme, host or port goes without the
    credentials (Authorization, Cookie, Proxy-Authorization and `sensitive_headers`, the
    ones that came from a connection or a secret), as curl and browsers do."""
    import httpx

    headers = dict(kwargs.pop("headers", None) or {})
    params = kwargs.pop("params", None)
    if params:
        url = str(httpx.URL(url).copy_merge_params(params))
    first_origin = origin(url)
    dropped = CREDENTIAL_HEADERS | {name.lower() for name in sensitive_headers}
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=True) as client:
        for _ in range(MAX_REDIRECTS + 1):
            host, address = vet(url)
            port = urlsplit(url).port
            hop_headers = {**headers, "Host": host + (f":{port}" if port else "")}
            response = client.request(
                method, pinned_url(url, address), headers=hop_headers,
                extensions={"sni_hostname": host}, **kwargs,
            )
            if not (follow_redirects and response.is_redirect):
                return response
            url = urljoin(url, response.headers["location"])
            if origin(url) != first_origin:
                headers = {k: v for k, v in headers.items() if k.lower() not in dropped}
            if response.status_code in (301, 302, 303) and method != "HEAD":
                method, kwargs = "GET", {}
        raise OutboundRefused(f"more than {MAX_REDIRECTS} redirects")
