"""Crafted latent-pad messages through the real pad in Chromium, the real websocket and a real
server: they move nothing, as tests/test_reliability_pad.py shows through
AppTest's session state. What moved is read as a user sees it: the URL the server keeps in
step with its sliders and class, the pictures it decoded, and the page's exceptions.

The page's websocket is routed through Playwright. Every message passes unchanged, except
that the pad's code in the message a real release sends is replaced by a crafted one, so the
server gets it exactly as from a hand-made client, in a real rerun after a real drag."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import parse_qs

import pytest
from conftest import TINY_MODELS, page_errors, serving, wait_idle
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from test_reliability_pad import CRAFTED, D

from ui.latent_url import format_code

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, WebSocketRoute

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# CRAFTED is written for D values; its impossible class (99) and its class as text are
# impossible for any number of classes, so a CVAE with D dimensions takes it as it is.
MODEL = "tiny-cvae"
WELL_FORMED = {"z": [0.5, -1.25, 4.0], "label": 2}
ORIGIN = {"z": [0.0] * D, "label": 0}
READY = ".latent-pad[data-ready]"
RUN_TIMEOUT_S = 20
_NOTHING = object()


class Wire:
    """The page's websocket to the server. With a crafted code armed, the next release's code
    is replaced by it, in that message and in every later one that repeats that release (each
    rerun carries every widget's state, and the real code must not slip through after it)."""

    def __init__(self) -> None:
        self.armed: object = _NOTHING
        self.instead: dict[int, object] = {}  # a release's count n -> what the server gets
        self.latest = 0  # the pad's latest release count seen
        self.finished = 0  # script runs the server has reported finished

    def route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            self._count_runs(message)
            ws.send(message)

        ws.on_message(lambda message: server.send(self._to_server(message)))
        server.on_message(from_server)

    def _to_server(self, message: str | bytes) -> str | bytes:
        if isinstance(message, str):
            return message
        msg = BackMsg()
        msg.ParseFromString(message)
        if not msg.HasField("rerun_script"):
            return message
        changed = False
        for widget in msg.rerun_script.widget_states.widgets:
            if widget.WhichOneof("value") != "json_value":
                continue
            state = json.loads(widget.json_value)
            code = state.get("code") if isinstance(state, dict) else None
            if not (isinstance(code, dict) and isinstance(code.get("n"), int)):
                continue  # not the pad's state, or no release yet
            n = code["n"]
            if n > self.latest and self.armed is not _NOTHING:
                code, counted = self.armed
                # A well-formed code keeps the release's count, as the pad's own would: the
                # server acknowledges it and the pad goes on following the server.
                self.instead[n] = {**code, "n": n} if counted else code
                self.armed = _NOTHING
            self.latest = max(self.latest, n)
            if n in self.instead:
                state["code"] = self.instead[n]
                widget.json_value = json.dumps(state)  # NaN as the bare word, as Python reads
                changed = True
        return msg.SerializeToString() if changed else message

    def _count_runs(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(message)
            if msg.HasField("script_finished"):
                self.finished += 1


class Seen(NamedTuple):
    """What the server shows of its sliders and class: the URL it writes, and its pictures."""

    z: str
    c: str
    pictures: list[str]


def seen(page: Page, expect: tuple[str, str] | None = None) -> Seen:
    """What the page shows now; with `expect` (z, c), once its URL holds them or the timeout
    has passed, as the URL follows a run's end by a moment (the caller's assert says what
    went wrong)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        query = parse_qs(page.evaluate("location.search").lstrip("?"))
        z, c = query.get("z", [""])[0], query.get("c", [""])[0]
        if expect is None or (z, c) == expect or time.monotonic() > deadline:
            break
        page.wait_for_timeout(50)
    pictures = page.locator('[data-testid="stImage"] img, .ll-rows img').evaluate_all(
        "imgs => imgs.map(i => i.src)")
    return Seen(z, c, pictures)


@pytest.fixture(scope="module")
def pad(browser: Browser, tiny_models: Path,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Page, Wire]]:
    """Explore on a CVAE with CRAFTED's number of dimensions, in one page for every case."""
    assert TINY_MODELS[MODEL]["model"]["latent_dim"] == D
    with serving(browser, tmp_path_factory.mktemp("pad-messages"), [tiny_models / MODEL],
                 MODEL) as url:
        wire = Wire()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            # Routed before the page opens its websocket: there is only the one.
            page.route_web_socket("**/_stcore/stream", wire.route)
            page.goto(f"{url}/?model={MODEL}")
            page.wait_for_selector(READY, timeout=120_000)
            wait_idle(page)
            yield page, wire
        finally:
            page.close()


def release_with(page: Page, wire: Wire, code: object, counted: bool = False) -> None:
    """Drag the pad's point and let go, as a hand does, the server getting `code` instead of
    the pad's (`counted`: with the release's count, as a well-formed code from the pad has);
    returns once the server has finished the run the release started."""
    box = page.locator(".lp-pad").bounding_box(timeout=RUN_TIMEOUT_S * 1000)
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    runs = wire.finished
    wire.armed = (code, counted)
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x + 6 * i, y - 4 * i)
    page.mouse.up()
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (wire.armed is not _NOTHING or wire.finished == runs) and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright deliver the websocket's messages
    assert wire.armed is _NOTHING, "the release sent no message carrying the pad's code"
    assert wire.finished > runs, "the server did not finish a run after the release"
    wait_idle(page)


def from_the_origin(page: Page, wire: Wire) -> Seen:
    """Sliders at 0 and class 0, set by a well-formed code sent the same way: every case
    starts there, so what a crafted one moves shows, and a case that fails leaves the next
    one its own verdict."""
    release_with(page, wire, ORIGIN, counted=True)
    origin = (format_code(ORIGIN["z"]), str(ORIGIN["label"]))
    start = seen(page, origin)
    assert (start.z, start.c) == origin
    return start


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_crafted_pad_message_moves_nothing(pad: tuple[Page, Wire], name: str) -> None:
    page, wire = pad
    before = from_the_origin(page, wire)
    release_with(page, wire, CRAFTED[name])
    if "class" in name:
        # A well-formed code with an impossible class moves the sliders but never the class.
        after = seen(page, (format_code(CRAFTED[name]["z"]), before.c))
        assert (after.z, after.c) == (format_code(CRAFTED[name]["z"]), before.c)
    else:
        page.wait_for_timeout(300)  # the URL follows a run's end by a moment
        assert seen(page) == before
    assert page_errors(page) == []


def test_a_well_formed_pad_message_sent_the_same_way_moves_the_sliders_and_the_class(
        pad: tuple[Page, Wire]) -> None:
    page, wire = pad
    before = from_the_origin(page, wire)
    release_with(page, wire, WELL_FORMED, counted=True)
    moved = (format_code(WELL_FORMED["z"]), str(WELL_FORMED["label"]))
    after = seen(page, moved)
    assert (after.z, after.c) == moved
    assert after.pictures != before.pictures
    assert page_errors(page) == []
