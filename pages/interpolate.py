"""Interpolate: walk from one image's code to another's and decode every step."""

import numpy as np
import streamlit as st

from ui import render, session, state, words
from ui.charts import code_lengths
from vae.images import strip_gif, strip_png
from vae.latent import decode_images, interpolate

DOWNLOAD_SIDE = 256  # pixels per image in the PNG and GIF files
STRIP_PX = 840

model, ckpt = session.current()
path, key = str(ckpt.path), ckpt.key
enc = state.encodings(path, key)
mu, y = enc["mu"], enc.get("y")
images = state.test_images(path, key)
n, d = mu.shape
class_names = ckpt.config["data"]["class_names"]

render.heading("Interpolate between two images", 1)
render.explain(
    "Both images are encoded to the means of their codes, a and b; the strip decodes the codes "
    "on a path between them. **lerp** walks the straight line, whose middle lies closer to the "
    "origin than codes from the N(0, I) prior usually do, so it can fade; **slerp** follows the "
    "great circle and keeps the length of the code.",
    r"\text{lerp: } z_t = (1-t)\,a + t\,b \qquad \text{slerp: } z_t = "
    r"\frac{\sin((1-t)\Omega)}{\sin\Omega}\,a + \frac{\sin(t\Omega)}{\sin\Omega}\,b,"
    r"\ \cos\Omega = \frac{a\cdot b}{\lVert a\rVert\,\lVert b\rVert}")

if sample := state.sample_note(path, key):
    st.caption(sample)
# On a projector the strip comes first, so it is on the first screen; its controls follow.
if render.presentation():
    picture, controls = st.container(key="picture"), st.container()
else:
    controls, picture = st.container(), st.container(key="picture")
with controls:
    modes = ["By number", "Random pair"] + (["Two classes"] if y is not None else [])
    pick, how, many = st.columns([2, 2, 3])
    mode = pick.radio("Choose the two test images", modes, key="interp_mode")
    method = how.radio("Path", ["lerp", "slerp"], key="interp_method",
                       format_func={"lerp": "lerp (straight line)",
                                    "slerp": "slerp (great circle)"}.get)
    steps = many.slider("Number of steps", 3, 20, 8, key="interp_steps")
    seed = st.session_state.setdefault("interp_seed", 0)
    rng = np.random.default_rng(seed)

    if mode == "By number":
        first, second = st.columns(2)
        a = int(first.number_input("Image A: test image number", 0, n - 1, 0, key="interp_a"))
        b = int(second.number_input("Image B: test image number", 0, n - 1, min(1, n - 1),
                                    key="interp_b"))
    elif mode == "Random pair":
        a, b = (int(i) for i in rng.choice(n, 2, replace=n < 2))
    else:
        first, second = st.columns(2)
        ks = range(len(class_names))
        ka = first.selectbox("Class of image A", ks, 0, format_func=class_names.__getitem__,
                             key="interp_class_a")
        kb = second.selectbox("Class of image B", ks, min(1, len(ks) - 1),
                              format_func=class_names.__getitem__, key="interp_class_b")
        members = [np.flatnonzero(y == k) for k in (ka, kb)]
        if not all(len(m) for m in members):
            st.error("The test split has no image of one of these classes: pick another class.")
            st.stop()
        a, b = (int(rng.choice(m)) for m in members)
    if mode != "By number" and st.button("Another pair", icon=":material/casino:"):
        st.session_state["interp_seed"] = seed + 1
        st.rerun()

    labels = None
    if model.config.num_classes:
        k = st.selectbox("Decode every step as class", range(len(class_names)),
                         int(y[a]), format_func=class_names.__getitem__, key="interp_class")
        st.caption("A CVAE gets the class separately from z, so the path runs through style "
                   f"({words.style(ckpt.config['data']['dataset'])}) while the class stays the one "
                   "chosen here.")
        labels = np.full(steps, k)
    render.show_images(images[[a, b]], columns=2, width=256,
                       caption=f"A: test image #{a} (left) · B: test image #{b} (right)")
    if y is not None:
        st.text(f"A: class {class_names[y[a]]} · B: class {class_names[y[b]]}")

codes = interpolate(mu[a], mu[b], steps, method)
strip = decode_images(model, codes, labels)
t = np.linspace(0.0, 1.0, steps)

with picture:
    render.heading(f"{method}: {steps} steps from A (t = 0) to B (t = 1)", 3)
    # One row of about 840 px on a laptop; on a projector too, so it stays on the first screen.
    width = max(64, STRIP_PX // steps)
    at_t = [f"t = {v:.2f}" for v in t]
    render.show_row(strip, at_t, width=width)

scale = max(1, DOWNLOAD_SIDE // strip.shape[-1])
stem = f"{ckpt.name}-{method}-{a}-{b}"
# Ready for a slide: the model and the two images named above the strip, each step's t below.
ends = [f"#{i}" + (f" ({class_names[y[i]]})" if y is not None else "") for i in (a, b)]
title = f"{ckpt.name} · {method} from test image {ends[0]} to {ends[1]}" + (
    f" · decoded as {class_names[labels[0]]}" if labels is not None else "")
downloads = st.container(horizontal=True)
render.download_button(downloads, "Download strip (PNG)",
                       data=lambda: strip_png(strip, title, at_t, scale),
                       file_name=f"{stem}.png", mime="image/png", icon=":material/download:")
render.download_button(downloads, "Download animation (GIF)",
                       data=lambda: strip_gif(strip, title, at_t, scale),
                       file_name=f"{stem}.gif", mime="image/gif", icon=":material/movie:",
                       help="The strip played forth and back, looping.")

with st.expander("How long is the code along the path?"):
    lengths = {name: np.linalg.norm(interpolate(mu[a], mu[b], steps, name), axis=1)
               for name in ("lerp", "slerp")}
    st.plotly_chart(code_lengths(t, lengths, large=render.presentation()), width="stretch")
    st.caption(f"Codes drawn from the prior N(0, I) have a length near √{d} ≈ {np.sqrt(d):.1f}.")
