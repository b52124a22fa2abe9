"""Latent Lab: the VAE library behind the app (never imports streamlit)."""
