"""Pictures made for slides: every model named, every row labelled, A and B kept apart."""

import io

import numpy as np
from PIL import Image

from vae.images import INK, RULE, frames_gif, png_of, slide


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
