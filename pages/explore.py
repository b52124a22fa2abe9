"""Explore: move along each latent dimension and watch the decoded image follow; encode a test
image, a drawing or an upload; see traversals, the nearest training image and, for a 2-D
model, the whole decoded plane."""

import numpy as np
import streamlit as st

from ui import canvas, latent_pad, latent_views, render, session, state
from ui import latent_sliders as sliders
from vae.data import DataError
from vae.evaluation import latent_health
from vae.latent import (
    decode_images,
    encode_images,
    nearest_in,
    prior_code,
    traversal,
)
from vae.pictures import background_is_dark, drawing_to_digit, picture_to_input, read_picture

CLASS, TEST_INDEX, PICTURE, ERROR = "explore_class", "explore_test", "explore_pic", "explore_err"
CANVAS, UPLOAD = "explore_canvas", "explore_upload"

model, ckpt = session.current()
path, key = str(ckpt.path), ckpt.key
metrics = state.test_evaluation(path, key)
health = latent_health(metrics["kl_per_dim"], metrics["active_dims"])
d, k = model.config.latent_dim, model.config.num_classes
class_names = ckpt.config["data"].get("class_names") or []
digits = ckpt.config["data"]["dataset"] == "digits"
model_key = f"{path}@{key}"
n_test = len(state.test_images(path, key))


def label_now() -> int | None:
    return st.session_state.get(CLASS, 0) if k else None


def show_picture(x: np.ndarray, label: int | None, source: str) -> None:
    """Encode a picture in the model's input format, remember it with its reconstruction, and
    move the sliders to its code (the mean of q(z|x))."""
    labels = None if label is None else np.array([label])
    mu, _ = encode_images(model, x, labels)
    if label is not None and not source.startswith("Test image"):
        source += f", encoded as class {class_text(label)}"
    st.session_state[PICTURE] = {"x": x, "recon": decode_images(model, mu, labels),
                                 "source": source, "model": model_key}
    sliders.set_code("z", mu[0], label)


def class_text(label: int) -> str:
    return class_names[label] if label < len(class_names) else str(label)


def encode_test(random: bool) -> None:
    if random:
        st.session_state[TEST_INDEX] = int(np.random.default_rng().integers(n_test))
    i = int(st.session_state.get(TEST_INDEX, 0))
    y = state.test_labels(path, key)
    label = int(y[i]) if k and y is not None else None
    source = f"Test image {i}" + (f", class {class_text(int(y[i]))}" if y is not None else "")
    show_picture(state.test_images(path, key)[i:i + 1], label, source)


def on_drawing() -> None:
    drawn = canvas.drawing(CANVAS)
    if drawn is None or not drawn.any():
        st.session_state.pop(PICTURE, None)
        return
    x = (drawing_to_digit(drawn) if digits
         else picture_to_input(drawn, model.config.image_shape, dark_background=True))
    show_picture(x, label_now(), "Your drawing")


def on_upload() -> None:
    st.session_state.pop(ERROR, None)
    upload = st.session_state.get(UPLOAD)
    if upload is None:
        return
    try:
        pixels = read_picture(upload.getvalue())
    except ValueError as e:
        st.session_state[ERROR] = (f"This picture could not be used: {e}; upload a PNG or JPEG "
                                   "image.")
        return
    x = picture_to_input(pixels, model.config.image_shape, digits=digits,
                         dark_background=background_is_dark(state.test_images(path, key)))
    show_picture(x, label_now(), "Your upload")


# Everything that moves the sliders must happen before they are drawn.
notes = [sliders.read_url("z", d), sliders.read_class_url(CLASS, k) if k else None]
sliders.prepare("z", model_key, d, CLASS if k else None)
# A model picked since may have fewer classes or test images than the one these were for.
if k and not 0 <= st.session_state.get(CLASS, 0) < k:
    st.session_state[CLASS] = 0
if not 0 <= st.session_state.get(TEST_INDEX, 0) < n_test:
    st.session_state[TEST_INDEX] = 0

render.heading("Explore the latent space", 1)
render.explain(
    "Each slider is one coordinate of the latent code z, most informative first (by its KL "
    "over the test set). The big picture is what the decoder makes of z: the mean of "
    "p(x|z). Encoding a picture sets the sliders to the mean of q(z|x). On a 2-D model the "
    "pad's rings show q(z|x) itself for a few test images (one per class): μ ± σ on each axis.",
    r"\hat x = \mathbb{E}_{p_\theta(x\mid z)}[x], \qquad "
    r"\mathrm{KL}_j = -\tfrac12\left(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\right)")
for note in notes:
    if note:
        st.warning(note)
if sample := state.sample_note(path, key):
    st.caption(sample)

def buttons() -> None:
    """Where the code comes from: zero, the prior, a test image; and the pad's switch."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.button("Zero", on_click=sliders.set_code, args=("z", np.zeros(d)),
                  help="Every slider to 0: the centre of the prior N(0, I).")
        st.button("Random sample", on_click=lambda: sliders.set_code("z", prior_code(d)),
                  help="A code drawn from the prior N(0, I).")
        st.button("Random test image", on_click=encode_test, args=(True,),
                  help="Encode a test image the model never trained on.")
        st.number_input("Test image", 0, n_test - 1, key=TEST_INDEX, width=150)
        st.button("Encode it", on_click=encode_test, args=(False,))
        latent_pad.toggle()


# On a projector the picture comes first, so it is on the first screen; the buttons follow.
if not render.presentation():
    buttons()


def nearest_training_image(decoded: np.ndarray) -> None:
    try:
        train_index = state.train_index(ckpt)
    except DataError as e:  # the sliders need only the decoder; this panel needs the data
        st.info(f"Not shown: {e}")
        return
    index, rms = nearest_in(train_index, decoded)
    train = state.model_dataset(ckpt).train
    render.show_images(train.images(int(index[0])), width=render.image_width(192), frame=True,
                       inline=True)
    if train.y is not None:
        st.text(f"Class {class_text(int(train.y[index[0]]))}")
    st.caption(f"Differs from the decoded picture by {rms[0]:.2f} per pixel (0 = identical). "
               f"If every picture you make has a near-twin here, the model is copying its "
               f"{len(train_index):,} training images rather than generalizing.")


@st.fragment
def latent_panel() -> None:
    """Sliders, the decoded image, its nearest training image and the traversals: a slider
    reruns only this fragment, so the rest of the page (canvas, upload) is not redrawn."""
    # Decode first, in one batch, before anything is drawn: see sliders.current_code.
    z = sliders.current_code("z", d)
    label = label_now()
    rows, _ = sliders.shown_and_rest(health["order"], health["unused"])
    codes = np.concatenate([z[None], traversal(z, rows, latent_views.TRAVERSAL_VALUES)])
    pictures = decode_images(model, codes, None if label is None else np.full(len(codes), label))
    decoded = pictures[:1]

    # Decided here, in the fragment: a pad that fails reruns only the fragment.
    prefer_pad = latent_pad.preferred()
    why = latent_pad.unavailable(path) if prefer_pad else None
    if why:
        st.info(why)
    if prefer_pad and not why:
        pad_column, nearest_column = st.columns([9, 3], gap="large")
        with pad_column:
            latent_pad.latent_pad(
                "explore_pad", "z", path, metrics["kl_per_dim"], health["order"],
                health["unused"], label=label, class_key=CLASS if k else None,
                class_names=[class_text(c) for c in range(k)] if k else None)
    else:
        controls, picture_column, nearest_column = st.columns([5, 4, 3], gap="large")
        with picture_column:  # sent before the sliders beside it: the picture shows sooner
            render.heading("Decoded", 3)
            render.show_images(decoded, width=render.image_width(320), frame=True, inline=True)
        with controls:
            if k:
                st.selectbox("Class (the decoder's condition c)", range(k), key=CLASS,
                             format_func=class_text)
            sliders.sliders("z", metrics["kl_per_dim"], health["order"], health["unused"])
    if len(health["unused"]) == d:
        st.info("This model uses none of its latent dimensions (posterior collapse): every "
                "code decodes to almost the same picture. Pick another model in the sidebar.")
    with nearest_column:
        render.heading("Nearest training image", 3)
        nearest_training_image(decoded)
    sliders.write_url("z", z, ckpt.name, class_key=CLASS if k else None, label=label)

    # A 2-D model's two traversal rows fit beside its plane, except on a projector.
    side_by_side = d == 2 and not render.presentation()
    traversals, plane = (st.columns([2, 3], gap="large") if side_by_side
                         else (st.container(), st.container() if d == 2 else None))
    with traversals:
        render.heading("Traversals")
        latent_views.traversal_rows(model, z, rows, label, width=320 if side_by_side else 448,
                                    images=pictures[1:])
    if plane is not None:
        with plane:
            render.heading("The whole latent plane")
            st.caption("Each small picture is the decoding of the code at its place on the axes; "
                       "the red cross is where the sliders are.")
            latent_views.manifold_chart(path, key, z, label)


latent_panel()
if render.presentation():
    buttons()

render.heading("Your own picture")
draw_column, seen_column, rebuilt_column = st.columns(3, gap="large")
with draw_column:
    if k:
        st.caption("A CVAE encodes your picture together with a class: choose the class you "
                   "drew in the selector above first.")
    if model.config.image_shape[0] == 1:
        st.caption("Draw a digit with the mouse: each stroke is encoded at once." if digits
                   else "Draw with the mouse: each stroke is encoded at once.")
        canvas.drawing_canvas(CANVAS, on_drawing, size=render.image_width(256))
    st.file_uploader("…or upload a picture (PNG or JPEG)", type=["png", "jpg", "jpeg", "bmp",
                     "gif", "webp"], key=UPLOAD, on_change=on_upload)
    if st.session_state.get(ERROR):
        st.error(st.session_state[ERROR])
picture = st.session_state.get(PICTURE)
if picture and picture["model"] == model_key:
    with seen_column:
        st.text(picture["source"])
        render.show_images(picture["x"], width=render.image_width(224), frame=True,
                           caption="What the model sees")
    with rebuilt_column:
        st.text("The sliders now hold its code.")
        render.show_images(picture["recon"], width=render.image_width(224), frame=True,
                           caption="Its reconstruction")
else:
    seen_column.caption("Encode a test image, draw or upload a picture: it appears here next "
                        "to its reconstruction, and the sliders move to its code.")
