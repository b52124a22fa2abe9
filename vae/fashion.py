"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017), the built-in 28x28 dataset: where its IDX
files are on this machine and what its ten classes are called. Nothing is downloaded: the
files come from Debian's dataset-fashion-mnist package, or from a folder a user names."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from vae.file_readers import MNIST_NAMES, DataError, mnist_file

ENV = "LATENT_LAB_FASHION_DIR"
PACKAGE = "dataset-fashion-mnist"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
MISSING = (f"Fashion-MNIST is not installed here: install Debian's {PACKAGE} package "
           f"(apt-get install {PACKAGE}), or set {ENV} to a folder holding its four IDX files.")
# Fashion-MNIST's licence (Expat, as Debian's copyright file states it), which copies of its
# images carry: the shipped models' bundled samples (vae/bundled_sample.py).
NOTICE = """Images from Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist).
Copyright (c) 2017 Zalando SE, https://tech.zalando.com

The MIT License (MIT)

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


@functools.cache
def _package_folder() -> Path | None:
    """The folder Debian's package put the files in, as dpkg lists it; None without it."""
    try:
        listing = subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    images = MNIST_NAMES["train", "images"]
    for line in listing.splitlines():
        if line.endswith((images, f"{images}.gz")):
            return Path(line).parent
    return None


def folder() -> Path | None:
    """Where the four files are: the folder ENV names (and only it, when set), else the
    package's; None when they are not all there."""
    named = os.environ.get(ENV)
    where = Path(named).expanduser() if named else _package_folder()
    if where is None:
        return None
    try:  # found as `mnist:DIR` finds them, under any of the names it accepts
        for name in MNIST_NAMES.values():
            mnist_file(where, name)
    except DataError:
        return None
    return where
