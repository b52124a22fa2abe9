"""The join link: the address students type to open this lab, shown large with its QR code."""

from __future__ import annotations

import html
import io
import ipaddress
import re
import socket
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import segno
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

QR_SCALE = 12  # pixels per QR module: a version-2 code is 396 px with its quiet zone
# Any address in a private range will do: connecting a UDP socket only asks the kernel which
# of the machine's addresses it would send from; no packet leaves.
_PROBE = ("10.254.254.254", 1)
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")
_EVERY_INTERFACE = {"", "0.0.0.0", "::"}


@dataclass(frozen=True)
class Join:
    """Either the URL students open, or the sentence saying why there is none."""
    url: str | None = None
    problem: str | None = None


def lan_addresses() -> list[str]:
    """This machine's IP addresses that another machine could reach (no loopback, no
    link-local): the one its default route sends from, else those its name resolves to."""
    found = []
    # OSError: no route at all (the machine is on no network), or a name nothing resolves.
    with suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_PROBE)
        found.append(probe.getsockname()[0])
    found = [a for a in found if _reachable(a)]
    if not found:  # the machine's name may still resolve to an address of its own
        with suppress(OSError):
            found = [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)]
    return [a for a in dict.fromkeys(found) if _reachable(a)]


def _reachable(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _usable_name(host: str | None) -> str | None:
    """A host from the browser's address bar, if it is a plain name or IP address another
    machine could use (the Host header is whatever a client sends)."""
    if not host or _loopback(host):
        return None
    if _reachable(host) or (_HOST_NAME.fullmatch(host) and len(host) <= 253):
        return host
    return None


def join_address(listen: str | None, port: int, lan: list[str], browser_host: str | None,
                 base_path: str = "") -> Join:
    """The URL students open, from the server's listening address (`server.address`, unset
    for every interface), its port, this machine's reachable addresses and the host the
    teacher's browser used; or why students cannot join."""
    listen = (listen or "").strip()
    if listen and _loopback(listen):
        return Join(problem=f"This server listens only on {listen}, so students cannot join: "
                            "start it with `make run`, which listens on every network "
                            "address, or add `--server.address 0.0.0.0` to `streamlit run`.")
    host = listen if listen not in _EVERY_INTERFACE else next(iter(lan), None)
    host = host or _usable_name(browser_host)
    if not host:
        return Join(problem="This machine has no network address another computer could "
                            "reach, so students cannot join: connect it to the classroom's "
                            "network and open this again.")
    if ":" in host:  # an IPv6 address goes in brackets in a URL
        host = f"[{host}]"
    path = base_path.strip("/")
    return Join(url=f"http://{host}:{port}/{path}" if path else f"http://{host}:{port}")


def qr_code(url: str) -> segno.QRCode:
    """A QR code (not a Micro QR, which phone cameras do not read) at error level M."""
    return segno.make_qr(url, error="m", boost_error=False)


def qr_matrix(url: str) -> np.ndarray:
    """The code's modules, True for dark, without the quiet zone."""
    return np.array(qr_code(url).matrix, dtype=bool)


def qr_png(url: str, scale: int = QR_SCALE) -> bytes:
    """The code as a PNG file's bytes, in memory, with the standard four-module quiet zone."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def current() -> Join:
    """The join address of this server, for the session asking."""
    try:
        browser = urlsplit(st.context.url or "").hostname
    except ValueError:  # a malformed Host header
        browser = None
    return join_address(st.get_option("server.address"), st.get_option("server.port"),
                        lan_addresses(), browser, st.get_option("server.baseUrlPath") or "")


@st.dialog("Join this lab", width="large")
def _show() -> None:
    join = current()
    if join.problem:
        st.warning(join.problem)
        return
    # Large enough to read from the back of a room; the address is ours, escaped all the same.
    st.markdown(f'<p style="font-size: clamp(32px, 5vw, 64px); font-weight: 700; '
                f'text-align: center; overflow-wrap: anywhere; margin: 0">'
                f'{html.escape(join.url)}</p>', unsafe_allow_html=True)
    st.container(horizontal_alignment="center").image(qr_png(join.url), output_format="PNG")
    st.caption("Type the address into a browser on a device on the same network, or scan the "
               "code with a phone's camera.")


def join_panel(where: DeltaGenerator, key: str = "join_link") -> None:
    """A "Show join link" button in `where` that shows the address over the page."""
    if where.button("Show join link", key=key, icon=":material/qr_code_2:",
                    help="The address students open to use this lab, large, with its QR "
                         "code."):
        _show()
