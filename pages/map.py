"""Map: every test image as a dot at its code; click one to see it and send it to Explore."""

import time

import numpy as np
import streamlit as st

from ui import render, session, state
from ui.charts import class_marker
from ui.latent_url import format_code
from ui.map_hover import hover_pictures
from ui.scatter import RING_CAPTION, latent_map, posterior_rings
from vae import derived, projection
from vae.images import map_picture, png_of
from vae.latent import decode_images, dimension_name, nearest_in, pixel_index, posterior_handful

# Each poll redraws the page in the browser, its WebGL map of PCA included, which takes much of
# a core beside the t-SNE worker on a two-core machine without a GPU (docs/design.md §6): poll
# seldom, and near the end wait here for the map instead of until the next poll.
POLL_S = 1.0
# The t-SNE reports every 25 of its 300 iterations: past 0.9 (275) only its last 25 are left.
FINISHING = 0.9
NEIGHBOURS = 8

model, ckpt = session.current()
path, key = str(ckpt.path), ckpt.key
enc = state.encodings(path, key)
mu, y, factors = enc["mu"], enc.get("y"), enc.get("factors")
n, d = mu.shape
class_names = ckpt.config["data"]["class_names"]
factor_names = ckpt.config["data"].get("factor_names") or []
conditional = bool(model.config.num_classes)

render.heading("Map of the latent space", 1)
render.explain(
    "Each dot is one test image, placed at the mean μ of its code q(z|x). A 2-D model is drawn "
    "as it is; larger codes are flattened to two axes: **PCA** keeps the directions of largest "
    "spread (distances mean something), **t-SNE** keeps neighbours together (the size of a "
    "cluster and the gaps between clusters mean little). Click a dot to see the image next to "
    "its reconstruction; hovering a dot shows its image at once. On a 2-D model, rings show how "
    "wide q(z|x) is for a few test images (one per class): μ ± σ on each axis.",
    r"q_\phi(z\mid x) = \mathcal{N}\big(\mu_\phi(x),\ \operatorname{diag}\sigma^2_\phi(x)\big)"
    r"\quad\text{each dot sits at } \mu_\phi(x)")

left, right = st.columns([3, 2], gap="large")
# On a projector the controls sit beside the map, so the whole map fits the first screen.
controls = [right, right] if render.presentation() else left.columns(2)
if d == 2:
    method = "plane"
    controls[0].markdown(f"**Axes:** the two latent dimensions {dimension_name(0)} and "
                         f"{dimension_name(1)}, drawn directly.")
else:
    method = controls[0].radio("Projection", ["PCA", "t-SNE"], horizontal=True, key="map_method")
colour_options = (["class"] if y is not None else []) + list(factor_names)
colour = controls[1].selectbox("Colour by", colour_options or ["nothing"], key="map_colour",
                               disabled=not colour_options)

maps: dict[str, np.ndarray] = {}
tsne_file = derived.tsne_file(ckpt, state.shown_split(path, key))
tsne_state = None
if d == 2:
    coords, axes = mu, (dimension_name(0), dimension_name(1))
    maps["plane"] = mu
else:
    pcs, ratio = projection.pca(mu)
    maps["pca"] = pcs
    # Asked for as soon as the page opens, so it is usually ready when the user switches.
    tsne_state = state.tsne_workers().request(mu, tsne_file)
    tsne = projection.load_cached(tsne_file, n) if tsne_state.state == "ready" else None
    if tsne is not None:
        maps["tsne"] = tsne
    if method == "t-SNE" and tsne is not None:
        coords, axes = tsne, ("t-SNE 1", "t-SNE 2")
    else:
        coords = pcs
        axes = (f"PC 1 ({ratio[0]:.0%} of the variance)", f"PC 2 ({ratio[1]:.0%})")


@st.fragment(run_every=POLL_S)
def tsne_progress() -> None:
    progress = state.tsne_workers().request(mu, tsne_file)
    deadline = time.monotonic() + POLL_S
    while (progress.state == "running" and progress.fraction >= FINISHING
           and time.monotonic() < deadline):
        time.sleep(0.05)
        progress = state.tsne_workers().request(mu, tsne_file)
    if progress.state not in ("running", "waiting"):
        st.rerun()  # the whole page: draw the map, and stop polling
    if progress.state == "waiting":
        text = "t-SNE waits for another map to finish"
    elif progress.fraction == 0:
        text = "t-SNE: starting a worker process"
    else:
        text = f"t-SNE is being computed in the background: {progress.fraction:.0%}"
    st.progress(progress.fraction, text=f"{text}. PCA is shown until it is ready.")


if method == "t-SNE" and tsne_state is not None:
    if tsne_state.state in ("running", "waiting"):
        with left:
            tsne_progress()
    elif tsne_state.state == "failed":
        left.error(f"The t-SNE map could not be computed ({render.escape(tsne_state.message)}); "
                   "PCA is shown instead: press Try again, or pick PCA.")
        if left.button("Try again"):
            state.tsne_workers().request(mu, tsne_file, retry=True)
            st.rerun()

if "map_index" not in st.session_state or st.session_state["map_index"] >= n:
    st.session_state["map_index"] = 0
groups = values = None
if colour == "class" and y is not None:
    groups, colour_title = y, "Class"
elif colour in factor_names and factors is not None:
    values, colour_title = factors[:, factor_names.index(colour)], f"{colour} (level)"
else:
    colour_title = ""
# A 2-D model's map is the latent plane itself, where a posterior's spread can be drawn.
handful = posterior_handful(mu, enc["logvar"], y) if d == 2 else None
rings = posterior_rings(handful, class_names or []) if handful is not None else None
figure = latent_map(coords, axes, groups=groups, group_names=class_names, values=values,
                    colour_title=colour_title, marked=st.session_state["map_index"],
                    rings=rings, large=render.presentation())
with left:
    with st.container(key="picture"):  # the page's main picture (tests/test_browser_projector.py)
        event = st.plotly_chart(figure, on_select="rerun", selection_mode="points",
                                key="map_chart", width="stretch")
    if rings:
        st.caption(f"{RING_CAPTION} A small ring is an image the code pins down; a ring as "
                   "wide as the prior's N(0, 1) carries little about the image (high β).")
    if sample := state.sample_note(path, key):
        st.caption(sample)
    if conditional:
        st.caption("A CVAE encodes each image together with its class, which the decoder gets "
                   "separately: z keeps the style, so classes overlap on this map.")
picks = [p["customdata"] for p in event.selection.points if "customdata" in p]
if picks:
    # The ring moves to the pick; the redrawn chart is a new widget with no selection.
    st.session_state["map_index"] = int(np.ravel(picks[0])[0])
    st.rerun()

with right:
    render.heading("Selected image", 3)
    index = int(st.number_input("Test image number", 0, n - 1, step=1, key="map_index",
                                help="Or click a dot on the map."))
    labels = y[index:index + 1] if conditional else None
    images = state.test_images(path, key)
    recon = decode_images(model, mu[index:index + 1], labels)
    # One picture for the pair, as wide as the column is on a 1024-px projector.
    render.show_images(np.concatenate([images[index:index + 1], recon]), columns=2, width=340,
                       caption="Input (left) and its reconstruction, the decoder's mean at μ "
                               "(right)")
    if y is not None:
        st.text(f"Class: {class_names[y[index]]}")
    st.text(f"Map position: ({coords[index, 0]:.2f}, {coords[index, 1]:.2f})")
    # In the code space itself, not on the map: a flattened map can put far codes side by side.
    near, _ = nearest_in(pixel_index(mu), mu[index], k=NEIGHBOURS + 1)
    near = [int(i) for i in near if i != index][:NEIGHBOURS]
    render.show_images(images[near], columns=NEIGHBOURS // 2, width=render.image_width(300),
                       caption=f"Its {NEIGHBOURS} nearest neighbours by code μ (Euclidean, in "
                               f"all {d} dimensions): test images #" +
                               ", #".join(map(str, near)))
    if st.button("Open in Explore", icon=":material/tune:",
                 help="Set the Explore page's sliders to this image's code."):
        # Explore reads its position (and a CVAE's class) from these URL parameters.
        link = {"model": ckpt.name, "z": format_code(mu[index])}
        if conditional:
            link["c"] = str(int(y[index]))
        st.switch_page("pages/explore.py", query_params=link)

    # The map as drawn, ready for a slide (Pillow: plotly's own export needs a browser).
    drawn = next(name for name, m in maps.items() if m is coords)
    styles = [(m["color"], m["symbol"]) for m in map(class_marker, range(len(class_names or [])))]
    render.download_button(
        st, "Download map (PNG)", icon=":material/download:",
        data=lambda: png_of(map_picture(
            coords, f"{ckpt.name} · {n:,} test images at their mean code", axes, groups=groups,
            styles=styles, names=class_names, values=values, value_title=colour_title,
            rings=handful)),
        file_name=f"{ckpt.name}-map-{drawn}.png", mime="image/png",
        help="The map as drawn here, with the model's name, its axes, the classes' legend and "
             "a 2-D model's posterior rings.")
    labels_text = [class_names[k] for k in y] if y is not None else None
    render.download_button(
        st, "Download encodings (CSV)", icon=":material/download:",
        data=lambda: projection.encodings_csv(mu, labels_text, maps),
        file_name=f"{ckpt.name}-test-encodings.csv", mime="text/csv",
        help="One row per test image: index, label, μ and the 2-D map coordinates.")
    projector = st.columns(2)
    render.download_button(
        projector[0], "Vectors (TSV)", icon=":material/download:",
        data=lambda: projection.projector_tsv(mu, labels_text)[0],
        file_name=f"{ckpt.name}-vectors.tsv", mime="text/tab-separated-values",
        help="For TensorFlow's Embedding Projector: load this with the metadata file.")
    render.download_button(
        projector[1], "Metadata (TSV)", icon=":material/download:",
        data=lambda: projection.projector_tsv(mu, labels_text)[1],
        file_name=f"{ckpt.name}-metadata.tsv", mime="text/tab-separated-values",
        help="Each vector's test-image number and label, for the Embedding Projector.")

with left:  # last: a model's first visit builds the picture sheet after the rest is drawn
    hover_pictures(path, key, "map_chart", y, class_names or [])
