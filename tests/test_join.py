"""The join link: the address students type, its QR code, and the sentence when there is none."""

import io

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui import join

LAN = ["192.168.1.20"]


def test_the_address_is_the_machines_lan_address_and_the_servers_port():
    assert join.join_address(None, 8501, LAN, "localhost").url == "http://192.168.1.20:8501"
    assert join.join_address("0.0.0.0", 8600, LAN, None).url == "http://192.168.1.20:8600"
    # A server bound to one address is reached there, whatever else the machine has.
    assert join.join_address("10.0.0.7", 8501, LAN, None).url == "http://10.0.0.7:8501"
    assert join.join_address(None, 8501, ["fd00::5"], None).url == "http://[fd00::5]:8501"
    assert join.join_address(None, 8501, LAN, None, "/lab/").url == \
        "http://192.168.1.20:8501/lab"


def test_without_a_lan_address_the_browsers_host_is_used_unless_it_is_loopback():
    assert join.join_address(None, 8501, [], "lab-pc.local").url == "http://lab-pc.local:8501"
    for host in ("localhost", "127.0.0.1", "::1", None, "evil<script>", "a b"):
        answer = join.join_address(None, 8501, [], host)
        assert answer.url is None and "students cannot join" in answer.problem


@pytest.mark.parametrize("listen", ["localhost", "127.0.0.1", "::1"])
def test_a_server_on_loopback_only_says_students_cannot_join_and_how_to_fix_it(listen):
    answer = join.join_address(listen, 8501, LAN, "192.168.1.20")
    assert answer.url is None
    assert answer.problem.count(". ") == 0 and answer.problem.endswith(".")  # one sentence
    assert listen in answer.problem and "students cannot join" in answer.problem
    assert "make run" in answer.problem and "--server.address 0.0.0.0" in answer.problem


class Probe:
    """A UDP socket whose route goes out from `address` (or that has no route at all)."""

    def __init__(self, address: str | None):
        self.address = address

    def __call__(self, *args):
        return self

    def __enter__(self):
        if self.address is None:
            raise OSError("no IPv4 here")
        return self

    def __exit__(self, *exc):
        return False

    def connect(self, target):
        pass

    def getsockname(self):
        return (self.address, 0)


def test_this_machines_address_is_its_lan_one_never_loopback(monkeypatch):
    named = [(None, None, None, None, (a, 0)) for a in ("127.0.1.1", "169.254.3.4", "10.1.2.3")]
    monkeypatch.setattr(join.socket, "getaddrinfo", lambda *args: named)
    monkeypatch.setattr(join.socket, "socket", Probe("192.168.1.20"))
    assert join.lan_addresses() == ["192.168.1.20"]
    # No route out (or no IPv4 at all): the addresses the machine's name resolves to, less
    # loopback and link-local ones.
    monkeypatch.setattr(join.socket, "socket", Probe("127.0.0.1"))
    assert join.lan_addresses() == ["10.1.2.3"]
    monkeypatch.setattr(join.socket, "socket", Probe(None))
    assert join.lan_addresses() == ["10.1.2.3"]


def finders(m: np.ndarray) -> bool:
    """The three 7×7 finder squares of a QR code: dark ring, light ring, dark 3×3 centre."""
    ring = np.ones((7, 7), bool)
    ring[1:6, 1:6] = False
    ring[2:5, 2:5] = True
    n = len(m)
    return all((m[r:r + 7, c:c + 7] == ring).all() for r, c in ((0, 0), (0, n - 7), (n - 7, 0)))


def test_the_qr_code_is_a_full_qr_code_that_grows_with_the_url_and_differs_by_url():
    short = join.qr_matrix("http://192.168.1.20:8501")
    other = join.qr_matrix("http://192.168.1.21:8501")
    long = join.qr_matrix("http://lab-pc.classroom.example-school.internal:8501/latent-lab")
    for m in (short, other, long):
        assert m.shape[0] == m.shape[1] and (m.shape[0] - 17) % 4 == 0  # 17 + 4 × version
        assert finders(m)
    assert short.shape == other.shape and (short != other).any()
    assert long.shape[0] > short.shape[0]  # more characters need a larger version
    # The PNG is the same modules, QR_SCALE pixels each, inside a four-module quiet zone.
    png = Image.open(io.BytesIO(join.qr_png("http://192.168.1.20:8501"))).convert("L")
    size = (len(short) + 8) * join.QR_SCALE
    assert png.size == (size, size)
    pixels = np.asarray(png)[4 * join.QR_SCALE::join.QR_SCALE, 4 * join.QR_SCALE::join.QR_SCALE]
    assert ((pixels[:len(short), :len(short)] < 128) == short).all()


def panel_app():
    import streamlit as st

    from ui.join import join_panel

    join_panel(st.sidebar)


def test_the_button_shows_the_address_and_its_qr_code(monkeypatch):
    monkeypatch.setattr(join, "lan_addresses", lambda: LAN)
    at = AppTest.from_function(panel_app).run()
    assert not at.get("image")  # nothing until asked
    at.sidebar.button(key="join_link").click().run()
    assert not at.exception
    assert any("http://192.168.1.20:" in m.value for m in at.markdown)
    assert len(at.get("image")) == 1


def test_the_button_on_a_loopback_server_shows_the_sentence_and_no_code(monkeypatch):
    monkeypatch.setattr(join, "lan_addresses", lambda: LAN)
    at = AppTest.from_function(panel_app).run()
    # As `streamlit run app.py --server.address 127.0.0.1` would have set it.
    monkeypatch.setattr(st, "get_option", lambda name, _get=st.get_option:
                        "127.0.0.1" if name == "server.address" else _get(name))
    at.sidebar.button(key="join_link").click().run()
    assert not at.exception
    assert [w.value for w in at.warning][0].startswith("This server listens only on 127.0.0.1")
    assert not at.get("image")
