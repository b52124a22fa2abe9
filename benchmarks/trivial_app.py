"""The reference page of benchmarks/ui_latency.py: two sliders and one image, nothing else."""

import numpy as np
import streamlit as st

a = st.slider("a", -3.0, 3.0, 0.0, 0.05)
b = st.slider("b", -3.0, 3.0, 0.0, 0.05)
ramp = np.linspace(0, 1, 64, dtype=np.float32)
image = np.clip(np.outer(ramp, ramp) * (1 + a) + b / 6, 0, 1)
st.image(image, width=256)
