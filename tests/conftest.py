import pytest
import torch

from vae.data import load_dataset


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _one_thread():
    # Tests share two cores with each other's worker processes: keep each one to a thread.
    torch.set_num_threads(1)
