"""Pictures made for slides: every model named, every row and step labelled, A and B kept
apart."""

import io

import numpy as np
import pytest
from PIL import Image

from vae.images import (
    INK,
    RULE,
    frames_gif,
    grid,
    map_picture,
    png_of,
    slide,
    strip_gif,
    strip_png,
    to_pil,
)
from vae.latent import Posteriors


def panel(title: str, rows: int, shade: float) -> tuple[str, np.ndarray, list[str]]:
    return title, np.full((rows * 3, 1, 8, 8), shade, np.float32), [f"z{r + 1}" for r in
                                                                       range(rows)]


def test_a_slide_names_each_panel_labels_each_row_and_rules_them_apart():
    a, b = panel("A: one model", 2, 0.0), panel("B: another", 3, 0.0)
    picture = np.asarray(slide([a, b], 3, scale=4))
    bare = np.asarray(slide([(" ", a[1], [""] * 2)], 3, scale=4))  # no words
    top = picture[:len(bare)]
    # The words are ink where the wordless slide is white: the title band, and each row's
    # label in the column left of its images (rows of 8 + 1 pixels at 4x, below the band).
    band, row, gutter = 28, 9 * 4, picture.shape[1] - (3 * 9 + 1) * 4
    assert (top[:band] < 128).any() and not (bare[:band] < 128).any()
    for r in range(2):
        assert (top[band + r * row:band + (r + 1) * row, :gutter] < 128).any()
    rule = [y for y in range(len(picture)) if (picture[y] == INK).all()]
    assert len(rule) == RULE  # one dark rule, across the whole width, between A and B
    # B sits below the rule with its own title: changing it changes only what is below.
    other = np.asarray(slide([a, panel("B: a third", 3, 0.0)], 3, scale=4))
    changed = np.flatnonzero((other != picture).any(axis=(1, 2)))
    assert changed.min() > max(rule)


def test_frames_side_by_side_keep_each_models_rows_and_loop():
    a, b = panel("A", 2, 0.2), panel("B", 2, 0.9)
    frame = slide([(t, x[::3], labels) for t, x, labels in (a, b)], 1, scale=2, across=True)
    rule = [x for x in range(frame.width) if (np.asarray(frame)[:, x] == INK).all()]
    assert len(rule) == RULE
    frames = [slide([panel("A", 1, shade)], 1, scale=2) for shade in (0.1, 0.5, 0.9)]
    gif = Image.open(io.BytesIO(frames_gif(frames)))
    assert gif.n_frames == 4  # forth and back: 1, 2, 3, 2
    assert Image.open(io.BytesIO(png_of(frame))).size == frame.size


def strip(n: int = 5, side: int = 28) -> tuple[np.ndarray, list[str]]:
    """A fade from black to white, and each step's t."""
    t = np.linspace(0, 1, n)
    return (t[:, None, None, None] * np.ones((n, 1, side, side), np.float32),
            [f"t = {v:.2f}" for v in t])


def ink(part: np.ndarray) -> bool:
    return bool((part < 128).any())


def test_a_strip_png_is_the_bare_strip_with_its_title_above_and_each_t_below():
    x, at_t = strip()
    scale, band = 4, 7 * 4  # one line of text
    png = np.asarray(Image.open(io.BytesIO(strip_png(x, "tiny-vae · lerp", at_t, scale)))
                     .convert("L"))
    bare = np.asarray(to_pil(grid(x, len(x)), scale))
    h, w = bare.shape
    assert png.shape[0] == h + 2 * band and png.shape[1] >= w
    [left] = [c for c in range(png.shape[1] - w + 1) if (png[band:band + h, c:c + w] == bare).all()]
    assert ink(png[:band]) and not ink(png[:band, left + w:])  # the title, then white
    # Each step's t under its own image: ink below the middle of every column.
    for c in range(len(x)):
        middle = left + (1 + c * 29 + 14) * scale
        assert ink(png[-band:, middle - scale:middle + scale])
    # The words are the title and the captions: other words, other bands, same pictures.
    other = np.asarray(Image.open(io.BytesIO(strip_png(x, "tiny-vae · slerp", at_t[::-1],
                                                       scale))).convert("L"))
    assert (other[band:band + h] == png[band:band + h]).all()
    assert (other[:band] != png[:band]).any() and (other[-band:] != png[-band:]).any()


def test_a_strip_gif_titles_every_frame_and_captions_it_with_its_t():
    x, at_t = strip(3)
    gif = Image.open(io.BytesIO(strip_gif(x, "tiny-vae · lerp", at_t, scale=4)))
    assert gif.n_frames == 4 and gif.info["loop"] == 0  # forth and back: 1, 2, 3, 2
    band, frames = 7 * 4, []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("L")))
    bare = (28 + 2) * 4  # one image and its one-pixel gutter
    for frame in frames:
        assert frame.shape[0] == bare + 2 * band and ink(frame[:band]) and ink(frame[-band:])
    assert (frames[0][:band] == frames[1][:band]).all()  # one title
    assert (frames[0][-band:] != frames[1][-band:]).any()  # t = 0.00, then t = 0.50
    assert (frames[1] == frames[3]).all()


def test_a_map_draws_each_class_in_its_colour_where_its_codes_are_with_a_legend_and_title():
    coords = np.array([[-2.0, -2.0], [-1.9, -2.1], [2.0, 2.0], [2.1, 1.9]], np.float32)
    groups = np.array([0, 0, 1, 1])
    styles = [("#CC6677", "square"), ("#117733", "diamond"), ("#332288", "circle")]
    names = ["cats", "dogs", "absent"]
    side, line = 400, int(400 // 40 * 1.6)

    def draw(title: str) -> np.ndarray:
        return np.asarray(map_picture(coords, title, ("z1", "z2"), groups=groups,
                                      styles=styles, names=names, side=side))

    picture = draw("tiny-vae-2d · test codes")
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert (204, 102, 119) in colours and (17, 119, 51) in colours
    assert (51, 34, 136) not in colours  # a class with no point is left out of the legend
    # Codes at the bottom left are drawn in the frame's bottom left, those at the top right
    # in its top right: up is up.
    frame = picture[line:line + side, line:line + side]
    low_left, up_right = frame[side // 2:, :side // 2], frame[:side // 2, side // 2:]
    assert ((low_left == (204, 102, 119)).all(-1)).any()
    assert ((up_right == (17, 119, 51)).all(-1)).any()
    assert not ((low_left == (17, 119, 51)).all(-1)).any()
    other = draw("another model")
    assert (other[:line] != picture[:line]).any() and (other[line:] == picture[line:]).all()


def test_a_map_of_a_2d_model_draws_each_posterior_as_its_ring_in_its_class_colour():
    coords = np.array([[-2.0, -2.0], [2.0, 2.0]], np.float32)
    groups = np.array([0, 1])
    styles = [("#CC6677", "square"), ("#117733", "diamond"), ("#332288", "circle")]
    # One posterior of class 2 (no dots of that colour), twice as wide as it is tall.
    rings = Posteriors(index=np.array([7]), mean=np.array([[0.0, 0.0]]),
                       sd=np.array([[1.0, 0.5]]), label=np.array([2]))

    def ring(**kwargs) -> np.ndarray:
        picture = np.asarray(map_picture(coords, "tiny-vae-2d", ("z1", "z2"), groups=groups,
                                         styles=styles, names=["a", "b", "c"], side=400,
                                         **kwargs))
        return np.argwhere((picture == (51, 34, 136)).all(-1))

    assert len(ring()) == 0
    drawn = ring(rings=rings)
    height, width = np.ptp(drawn, axis=0) + 1
    assert width == pytest.approx(2 * height, rel=0.1)  # σ 1 across, 0.5 up
    # 2σ of a 4-unit span: half the frame's 400 px less its margins.
    assert width == pytest.approx(0.5 * (400 - 2 * int(400 // 40 * 1.6)), rel=0.1)
