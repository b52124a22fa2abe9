"""Conditional: a CVAE draws the class you choose in the style its code z describes; one style
across every class; class swap of a real test image."""

import numpy as np
import streamlit as st

from ui import latent_pad, latent_views, render, session, state, words
from ui import latent_sliders as sliders
from vae.evaluation import latent_health
from vae.latent import decode_every_class, decode_images, encode_images, prior_code

CLASS, SWAP_INDEX = "cond_class", "cond_swap"
EXAMPLE = "digits-cvae"

model, ckpt = session.current()
k = model.config.num_classes
dataset = ckpt.config["data"]["dataset"]

render.heading("Conditional generation", 1)
render.explain(
    "A conditional VAE is told the class c: the encoder sees it next to the image, the decoder "
    "next to the code z. So z is free to hold what the class does not say, the *style* "
    f"({words.style(dataset)}): the same z decoded under every class gives the same style.",
    r"q_\phi(z \mid x, c), \qquad p_\theta(x \mid z, c), \qquad p(z) = \mathcal{N}(0, I)")


if not k:
    # A CVAE of the data this model shows, if there is one: the lesson stays on its pictures.
    cvaes = [c.name for c in state.model_list() if c.config["model"]["num_classes"]]
    same = [c.name for c in state.model_list() if c.config["model"]["num_classes"]
            and c.config["data"]["dataset"] == dataset]
    example = (same or cvaes or [EXAMPLE])[0]
    st.info(f"This page needs a conditional VAE (CVAE), whose decoder takes the class you "
            f"choose: pick a CVAE model, e.g. {example}, in the sidebar.")
    if example in cvaes:
        st.button(f"Use {example}", on_click=session.select_model, args=(example,))
    st.stop()

path, key = str(ckpt.path), ckpt.key
metrics = state.test_evaluation(path, key)
health = latent_health(metrics["kl_per_dim"], metrics["active_dims"])
d = model.config.latent_dim
names = [str(n) for n in ckpt.config["data"].get("class_names") or []]
names += [str(i) for i in range(len(names), k)]
test_x = state.test_images(path, key)
test_y = state.test_labels(path, key)

model_key = f"{path}@{key}"
sliders.prepare("cz", model_key, d, CLASS)
# A model picked since may have fewer classes or test images than the one these were for.
if not 0 <= st.session_state.get(CLASS, 0) < k:
    st.session_state[CLASS] = 0
if not 0 <= st.session_state.get(SWAP_INDEX, 0) < len(test_x):
    st.session_state[SWAP_INDEX] = 0

render.heading("Class and style")
# On a projector the picture comes first, so it is on the first screen; the buttons follow.
if render.presentation():
    pad_box, buttons_box = st.container(), st.container()
else:
    buttons_box, pad_box = st.container(), st.container()
with buttons_box.container(horizontal=True, vertical_alignment="center"):
    st.button("Zero style", on_click=sliders.set_code, args=("cz", np.zeros(d)),
              help="Every style slider to 0: the centre of the prior N(0, I).")
    st.button("Random style", on_click=lambda: sliders.set_code("cz", prior_code(d)),
              help="A style drawn from the prior N(0, I).")
    in_page = latent_pad.toggle()
with pad_box:
    if in_page and (why := latent_pad.unavailable(path)):
        st.info(why)
        in_page = False
    label = int(st.session_state.setdefault(CLASS, 0))
    if in_page:
        latent_pad.latent_pad("cond_pad", "cz", path, metrics["kl_per_dim"], health["order"],
                              health["unused"], label=label,
                              class_key=CLASS, class_names=names)
        z = sliders.current_code("cz", d)
    else:
        controls, picture_column = st.columns([5, 4], gap="large")
        with controls:
            st.selectbox("Class c", range(k), key=CLASS, format_func=names.__getitem__)
            z = sliders.sliders("cz", metrics["kl_per_dim"], health["order"], health["unused"])
        with picture_column:
            render.show_images(decode_images(model, z[None], np.array([label])),
                               width=render.image_width(320), frame=True)
            st.text(f"Class {names[label]}")

render.heading("One style, every class")
st.caption("The style sliders above, decoded under each class in turn.")
latent_views.labelled_strip(decode_every_class(model, z), names)

render.heading("Class swap")
st.caption("A real test image is encoded together with its own label; its code is then decoded "
           f"under every other label: {words.swap(dataset)}.")
if sample := state.sample_note(path, key):
    st.caption(sample)


def pick_random() -> None:
    st.session_state[SWAP_INDEX] = int(np.random.default_rng().integers(len(test_x)))


with st.container(horizontal=True, vertical_alignment="bottom"):
    st.number_input("Test image", 0, len(test_x) - 1, key=SWAP_INDEX, width=150)
    st.button("Random test image", on_click=pick_random)
index = int(st.session_state.get(SWAP_INDEX, 0))
own = int(test_y[index])
mu, _ = encode_images(model, test_x[index:index + 1], np.array([own]))
original, swapped = st.columns([1, 5], gap="large")
with original:
    render.show_images(test_x[index:index + 1], width=render.image_width(160), frame=True)
    st.text(f"The test image, class {names[own]}")
with swapped:
    latent_views.labelled_strip(decode_every_class(model, mu[0]),
                                [f"{n} (own)" if c == own else n for c, n in enumerate(names)])
