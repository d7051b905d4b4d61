"""Whether an address stays on this machine: for binding the server and judging model servers."""

from __future__ import annotations

import ipaddress
import socket

#: Host names a browser on this machine uses for a loopback server.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def loopback_only(host: str) -> bool:
    """True when every address ``host`` stands for is a loopback address.

    ``""``, ``"0"``, ``"0.0.0.0"`` and ``"::"`` mean every interface, and a name is judged by
    every address it resolves to; a name that does not resolve is not loopback.
    """
    text = host.strip().strip("[]")
    if not text:
        return False
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        pass
    if text.isdigit():  # "0" is read by the resolver as 0.0.0.0
        return False
    try:
        infos = socket.getaddrinfo(text, None)
    except (socket.gaierror, UnicodeError, OSError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )
