"""``udp://host:port`` addresses of MPEG-TS streams (parsed here, used by receiver and sender)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from tecktrack.errors import StreamError

__all__ = ["TS_PACKET_PAYLOAD", "UdpAddress", "parse_udp_url"]

#: Datagram payload: seven 188-byte transport-stream packets, below a 1500-byte MTU.
TS_PACKET_PAYLOAD = 1316


@dataclass(frozen=True)
class UdpAddress:
    """A validated ``udp://host:port`` address.

    Examples
    --------
    >>> parse_udp_url("udp://127.0.0.1:5000").port
    5000
    >>> parse_udp_url("udp://[::1]:5000").url    # IPv6 hosts keep their brackets
    'udp://[::1]:5000'
    """

    host: str
    port: int

    @property
    def url(self) -> str:
        """The canonical ``udp://host:port`` form (``udp://[v6]:port`` for IPv6 hosts)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"udp://{host}:{self.port}"


def parse_udp_url(url: str) -> UdpAddress:
    """Parse and validate ``udp://host:port`` (no path, query or credentials).

    Raises
    ------
    StreamError
        When the scheme is not ``udp`` or the host or port is missing or out of range.

    Examples
    --------
    >>> parse_udp_url("udp://localhost:5000")
    UdpAddress(host='localhost', port=5000)
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "udp":
        raise StreamError(f"expected a udp://host:port URL, got scheme {parts.scheme!r}", url)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise StreamError("a UDP source is udp://host:port, without path, query or user", url)
    try:
        port = parts.port
    except ValueError as exc:
        raise StreamError(f"bad port: {exc}", url) from exc
    if not parts.hostname or port is None or not 1 <= port <= 65535:
        raise StreamError("a UDP source needs a host and a port in 1..65535", url)
    return UdpAddress(parts.hostname, port)


