"""The Train page's form: widgets, presets that fill them, and the RunSpec they describe.

Widget values live in st.session_state under train_form_<name> keys (kept across page
switches), so a preset fills the form by writing those keys; `run_spec` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from ui import render
from vae import fashion, uploads
from vae.model_config import CONV_SIDES, conv_accepts, parse_hidden
from vae.presets import PRESETS
from vae.runner import RunSpec
from vae.training import gpu_available

CUSTOM = "custom"
DATASETS = {"digits": "Digits (8×8, 1,797 images)", "shapes": "Shapes (32×32, 5 factors)",
            "fashion": "Fashion-MNIST (28×28, 70,000 images)", "upload": "Upload your own"}
# Shape and class count of the built-in datasets, so the form checks a model without loading.
BUILT_IN = {"digits": ((1, 8, 8), 10), "shapes": ((1, 32, 32), 3), "fashion": ((1, 28, 28), 10)}
IMAGE_SIZES = [0, 16, 28, 32, 64]
SCHEDULES = {"constant": "constant", "linear": "linear warm-up", "sigmoid": "sigmoid",
             "cyclical": "cyclical"}
PACES = [0, 1, 2, 5, 10, 20, 30, 50, 100, 200, 500]
PRESET_LABELS = {"paper": "Paper setup (Kingma & Welling)", "beta4": "β = 4 disentangle",
                 "tiny-live": "Tiny live demo (2-D, paced)",
                 "lesson-live": "Lesson: live run (2-D, about 2½ minutes)"}
# What a preset means beyond its configs: the dataset it is for, a pace a class can follow.
PRESET_EXTRAS = {"tiny-live": {"dataset": "digits", "pace": 30},
                 "lesson-live": {"dataset": "digits", "pace": 10},
                 "shapes-conv": {"dataset": "shapes"}}
DEFAULTS = {
    "dataset": "digits", "kind": "vae", "arch": "mlp", "hidden": "400", "latent_dim": 10,
    "image_size": 0, "beta": 1.0, "schedule": "constant", "warmup": 2000, "t0": 1000,
    "rate": 200, "period": 1000, "free_bits": 0.0, "epochs": 40, "lr": 1e-3, "seed": 0,
    "pace": 0, "device": "cpu", "objective": "betavae", "capacity": False, "c_max": 25.0,
    "c_steps": 5000, "gamma": 100.0,
}
DEVICES = {"cpu": "CPU", "cuda": "GPU (CUDA)"}
OBJECTIVES = {"betavae": "β-VAE: β weights the whole KL",
              "betatcvae": "β-TCVAE: β weights only the total correlation"}


def key(name: str) -> str:
    return f"train_form_{name}"


def keep(name: str) -> dict:
    """A widget's key, its value kept for the whole session (across page switches)."""
    return {"key": key(name), "persist_state": "session"}


def value(name: str) -> Any:
    return st.session_state.get(key(name), DEFAULTS.get(name))


def preset_values(preset: str) -> dict:
    """The form values a preset stands for: defaults, then the preset's own choices."""
    if preset not in PRESETS:
        return dict(DEFAULTS)
    model, train = PRESETS[preset]["model"], PRESETS[preset]["train"]
    values = {**DEFAULTS, **PRESET_EXTRAS.get(preset, {})}
    values["arch"] = model.get("arch", values["arch"])
    if "hidden" in model:
        values["hidden"] = ", ".join(str(h) for h in model["hidden"])
    values["latent_dim"] = model.get("latent_dim", values["latent_dim"])
    for name in ("beta", "free_bits", "epochs", "lr", "seed"):
        values[name] = train.get(name, values[name])
    kind, *numbers = train.get("beta_schedule", "constant").split(":")
    values["schedule"] = kind
    names = {"linear": ["warmup"], "sigmoid": ["t0", "rate"], "cyclical": ["period"]}
    for name, number in zip(names.get(kind, []), numbers, strict=False):
        values[name] = int(float(number))
    if values["arch"] == "conv" and values["dataset"] == "digits":
        values["image_size"] = 32
    return values


def apply_preset() -> None:
    """on_change of the preset box: write the preset's values into the form's widgets."""
    for name, v in preset_values(st.session_state[key("preset")]).items():
        st.session_state[key(name)] = v


def _ensure_defaults() -> None:
    for name, v in DEFAULTS.items():
        st.session_state.setdefault(key(name), v)


@dataclass
class DataInfo:
    """What the model config needs to know of a dataset (duck-types vae.data.Dataset)."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int


@dataclass
class FormResult:
    spec: RunSpec | None
    name: str
    pace: float
    error: str | None
    error_shown: bool = False  # already on the page (a refused upload): Start need not repeat it


def schedule_spec(values: dict) -> str:
    kind = values["schedule"]
    if kind == "linear":
        return f"linear:{int(values['warmup'])}"
    if kind == "sigmoid":
        return f"sigmoid:{int(values['t0'])}:{int(values['rate'])}"
    if kind == "cyclical":
        return f"cyclical:{int(values['period'])}"
    return "constant"


def run_spec(values: dict, data: DataInfo, preset: str | None) -> RunSpec:
    """The RunSpec the form describes, checked as the worker will check it; a ValueError's
    message says what to change."""
    image_size = int(values["image_size"]) or None
    c, h, w = data.image_shape
    if image_size:
        h = w = image_size
    if values["arch"] == "conv" and not conv_accepts(h, w):
        raise ValueError(f"The conv architecture needs images of {CONV_SIDES[0]} to "
                         f"{CONV_SIDES[1]} pixels a side and these are {h}×{w}; set Image size "
                         "to 32 or choose MLP.")
    model = {"arch": values["arch"], "latent_dim": int(values["latent_dim"]),
             "hidden": list(parse_hidden(str(values["hidden"])))}
    train = {"beta": float(values["beta"]), "beta_schedule": schedule_spec(values),
             "free_bits": float(values["free_bits"]), "epochs": int(values["epochs"]),
             "lr": float(values["lr"]), "seed": int(values["seed"]),
             "objective": values["objective"], "device": values["device"]}
    if values["capacity"]:
        train["capacity"] = (f"{float(values['c_max']):g}:{int(values['c_steps'])}:"
                             f"{float(values['gamma']):g}")
    spec = RunSpec(dataset=data.name, model=model, train=train, kind=values["kind"],
                   image_size=image_size, rgb=bool(values.get("rgb", False)), preset=preset)
    spec.model_config(DataInfo(data.name, (c, h, w), data.num_classes))
    spec.train_config()
    return spec


def _dataset_choice() -> tuple[DataInfo | None, str | None, bool]:
    """(the chosen dataset, None, False) or (None, why not, whether that is shown already);
    an upload is validated once."""
    choice = value("dataset")
    if choice != "upload":
        return DataInfo(choice, *BUILT_IN[choice]), None, False
    files = st.file_uploader(
        "An .npz (x, optional y), a .zip of images (class folders), or IDX files (images and "
        "labels, or MNIST's four: t10k stays the test split)",
        accept_multiple_files=True, key=key("upload"),  # any type: IDX names have no suffix
        help="At most 200 MB; images 8 to 128 pixels a side (or choose an image size).")
    if not files:
        return None, "Upload a dataset first, or choose a built-in dataset.", False
    st.checkbox("Keep colour (RGB)", **keep("rgb"),
                help="For a zip of colour images; otherwise they are read as grey.")
    image_size = int(value("image_size")) or None
    rgb = bool(st.session_state.get(key("rgb")))
    token = (uploads.identity(files), image_size, rgb)
    cached = st.session_state.get(key("accepted"))
    if not cached or cached[0] != token:  # checked once per upload, not on every rerun
        with st.spinner("Checking the upload…"):
            cached = (token, *uploads.accept(uploads.read(files), image_size=image_size,
                                             rgb=rgb))
        st.session_state[key("accepted")] = cached
    _, upload, error = cached
    if error:
        # Under the uploader at once: the user learns why before pressing Start.
        show_error(error)
        return None, error, True
    c, h, w = upload.image_shape
    classes = f"{len(upload.class_names)} classes" if upload.class_names else "no labels"
    st.caption(f"Accepted: {upload.images:,} images of {h}×{w}"
               f"{' in colour' if c == 3 else ''}, {classes}.")
    return DataInfo(upload.spec, upload.image_shape, len(upload.class_names)), None, False


def form() -> FormResult:
    """Draw the form; returns what Start would submit (or why it cannot)."""
    _ensure_defaults()
    presets = [CUSTOM, *PRESETS]
    st.selectbox("Preset", presets, **keep("preset"), on_change=apply_preset,
                 format_func=lambda p: "Custom" if p == CUSTOM else
                 f"{PRESET_LABELS.get(p, p)}: {PRESETS[p]['description']}",
                 help="Fills the form with a known recipe; change anything afterwards.")
    data_col, model_col, beta_col, run_col = st.columns(4, gap="medium")
    with data_col:
        st.markdown("**Data**")
        installed = fashion.folder() is not None
        st.radio("Dataset", [d for d in DATASETS if installed or d != "fashion"],
                 **keep("dataset"), format_func=DATASETS.get)
        if not installed:
            st.caption(fashion.MISSING)
        st.selectbox("Image size (pixels a side)", IMAGE_SIZES, **keep("image_size"),
                     format_func=lambda s: "as the data is" if s == 0 else f"{s}×{s}",
                     help=f"Resize every image; the conv architecture needs {CONV_SIDES[0]} "
                          f"to {CONV_SIDES[1]}.")
        data, data_error, data_error_shown = _dataset_choice()
    with model_col:
        st.markdown("**Model**")
        st.radio("Kind", ["vae", "cvae"], **keep("kind"), horizontal=True,
                 format_func=lambda k: "VAE" if k == "vae" else "CVAE (class-conditional)")
        st.radio("Architecture", ["mlp", "conv"], **keep("arch"), horizontal=True,
                 format_func=str.upper)
        st.text_input("Hidden layers", **keep("hidden"),
                      help="Units per hidden layer, comma-separated, e.g. 512, 256.")
        st.slider("Latent dimensions", 2, 64, **keep("latent_dim"))
    with beta_col:
        st.markdown("**β and the KL term**")
        st.number_input("β (final value)", 0.0, 100.0, step=0.5, **keep("beta"),
                        help="Training minimizes −reconstruction + β·KL (docs/design.md §3).")
        st.selectbox("β schedule", list(SCHEDULES), **keep("schedule"),
                     format_func=SCHEDULES.get)
        schedule = value("schedule")
        if schedule == "linear":
            st.number_input("Warm-up steps", 1, 10**6, **keep("warmup"))
        elif schedule == "sigmoid":
            st.number_input("Midpoint step t₀", 0, 10**6, **keep("t0"))
            st.number_input("Rate (steps)", 1, 10**6, **keep("rate"))
        elif schedule == "cyclical":
            st.number_input("Period (steps)", 1, 10**6, **keep("period"))
        st.number_input("Free bits κ (nats per dimension)", 0.0, 10.0, step=0.1,
                        **keep("free_bits"), help="Σ_j max(κ, KL_j): keeps dimensions alive.")
        st.radio("Objective", list(OBJECTIVES), **keep("objective"), format_func=OBJECTIVES.get,
                 help="β-TCVAE (Chen et al. 2018) penalizes only the dependence between "
                      "dimensions, so a high β costs less reconstruction.")
        if st.toggle("Controlled capacity", **keep("capacity"),
                     help="Burgess et al. 2018: γ·|KL − C| in place of β·KL, with the target C "
                          "rising linearly, so the code grows one factor at a time."):
            st.number_input("Final capacity C (nats)", 0.0, 1000.0, step=1.0, **keep("c_max"))
            st.number_input("Steps to reach it", 1, 10**7, **keep("c_steps"))
            st.number_input("γ", 0.1, 10_000.0, step=10.0, **keep("gamma"))
    with run_col:
        st.markdown("**Run**")
        st.number_input("Epochs", 1, 10_000, **keep("epochs"))
        st.number_input("Learning rate", 1e-6, 1.0, step=1e-4, format="%.5f", **keep("lr"))
        st.number_input("Seed", 0, 2**31 - 1, **keep("seed"))
        # The server's jobs train on the CPU unless asked: a class's GPU may be busy elsewhere.
        if gpu_available():
            st.radio("Device", list(DEVICES), **keep("device"), horizontal=True,
                     format_func=DEVICES.get)
        else:
            st.caption("Trains on the CPU: this machine has no CUDA GPU.")
        st.select_slider("Pace (steps per second)", PACES, **keep("pace"),
                         format_func=lambda p: "full speed" if p == 0 else str(p),
                         help="Slow a run down so a class can watch it learn.")
        name = st.text_input("Name of the model", **keep("name"), max_chars=64,
                             placeholder="e.g. my-first-vae")
    values = {n: value(n) for n in [*DEFAULTS, "rgb"]}
    preset = st.session_state.get(key("preset"), CUSTOM)
    if data_error:
        return FormResult(None, name, 0.0, data_error, data_error_shown)
    try:
        spec = run_spec(values, data, None if preset == CUSTOM else preset)
    except ValueError as err:
        return FormResult(None, name, 0.0, str(err))
    return FormResult(spec, name.strip(), float(values["pace"]), None)


def show_error(error: str) -> None:
    st.error(render.escape(error))
