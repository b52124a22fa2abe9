"""Streamlit-side helpers shared by the pages: state, sidebar, rendering, components."""
