"""2-D maps of codes: PCA, t-SNE cached per checkpoint version and computed off the server."""

import csv
import io
import time

import numpy as np
import pytest
from sklearn.manifold import trustworthiness

from vae import checkpoints, projection
from vae.derived import encode_split


def codes(n=240, scales=(5.0, 3.0, 1.0, 0.5), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, len(scales))) * scales).astype(np.float32)


def test_pca_gives_two_axes_in_decreasing_variance():
    x = codes()
    coords, ratio = projection.pca(x)
    assert coords.shape == (len(x), 2)
    assert ratio[0] > ratio[1] > 0
    assert ratio[0] == pytest.approx(25 / 35.25, abs=0.1)
    assert coords[:, 0].var() > coords[:, 1].var()
    # The first axis is the high-variance input dimension, up to sign.
    assert abs(np.corrcoef(coords[:, 0], x[:, 0])[0, 1]) > 0.95


def test_pca_is_deterministic_and_pads_a_single_dimension():
    x = codes()
    assert np.array_equal(projection.pca(x)[0], projection.pca(x.copy())[0])
    coords, ratio = projection.pca(x[:, :1])
    assert coords.shape == (len(x), 2) and np.all(coords[:, 1] == 0)
    assert ratio.tolist() == pytest.approx([1.0, 0.0])


@pytest.fixture(scope="module")
def digit_codes():
    """The shipped 20-D digits model's test codes (360) and their digits."""
    codes = encode_split(checkpoints.SHIPPED_DIR / "digits-vae-20d")
    return codes["mu"], codes["y"]


def test_tsne_keeps_digits_apart_and_neighbours_together(digit_codes):
    mu, y = digit_codes
    coords = projection.tsne(mu, threads=1)
    assert coords.shape == (len(mu), 2) and coords.dtype == np.float32
    assert trustworthiness(mu, coords, n_neighbors=10) > 0.98
    # 10-NN accuracy: 0.90 in the 20-D codes themselves, 0.88 in scikit-learn's t-SNE map.
    accuracy = projection.neighbour_accuracy(coords, y)
    assert accuracy > 0.86
    # The flat PCA picture of the same codes mixes the digits far more (0.58).
    assert accuracy > projection.neighbour_accuracy(projection.pca(mu)[0], y) + 0.2


def test_tsne_reports_progress_until_done():
    seen = []
    projection.tsne(codes(200), progress=seen.append, threads=1)
    assert len(seen) >= 10 and seen == sorted(seen) and seen[-1] == 1.0


def test_tsne_is_deterministic_for_a_seed():
    x = codes(200)
    first = projection.tsne(x, seed=3, threads=1)
    assert np.array_equal(first, projection.tsne(x.copy(), seed=3, threads=1))
    assert not np.array_equal(first, projection.tsne(x, seed=4, threads=1))


def test_neighbour_accuracy_of_separate_and_mixed_classes():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b"], 50)
    apart = rng.standard_normal((100, 2)) + np.where(labels == "a", 0, 100)[:, None]
    assert projection.neighbour_accuracy(apart, labels) == 1.0
    mixed = rng.standard_normal((100, 2))
    assert projection.neighbour_accuracy(mixed, labels) < 0.75


def test_tsne_result_is_cached_and_reused(tmp_path, monkeypatch):
    x = codes(120)
    file = tmp_path / "tsne.npy"
    first = projection.cached_tsne(x, file, threads=1)
    assert file.exists() and first.shape == (120, 2)

    def refuse(*args, **kwargs):
        raise AssertionError("t-SNE recomputed despite the cache")

    monkeypatch.setattr(projection, "tsne", refuse)
    assert np.array_equal(projection.cached_tsne(x, file), first)
    # Codes of another length (another split or model) do not match the cached map.
    assert projection.load_cached(file, 119) is None


def test_background_tsne_completes_and_a_second_request_is_instant(tmp_path):
    x = codes(300)
    file = tmp_path / "tsne.npy"
    workers = projection.TsneWorkers()
    try:
        assert workers.request(x, file).state == "running"
        seen = []
        deadline = time.monotonic() + 90
        while (progress := workers.status(file, len(x))).state == "running":
            seen.append(progress.fraction)
            assert time.monotonic() < deadline, "t-SNE did not finish in 90 s"
            time.sleep(0.1)
        assert progress.state == "ready", progress.message
        assert seen == sorted(seen)
        start = time.perf_counter()
        again = projection.TsneWorkers().request(x, file)
        assert again.state == "ready" and time.perf_counter() - start < 0.1
        assert projection.load_cached(file, len(x)).shape == (300, 2)
    finally:
        workers.shutdown()


def test_a_failing_tsne_is_reported_not_retried(tmp_path):
    x = codes(50)
    x[3, 0] = np.nan
    file = tmp_path / "tsne.npy"
    workers = projection.TsneWorkers()
    try:
        workers.request(x, file)
        deadline = time.monotonic() + 90
        while (progress := workers.status(file, len(x))).state == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert progress.state == "failed" and "NaN" in progress.message
        assert workers.request(x, file).state == "failed"
    finally:
        workers.shutdown()


def test_encodings_csv_has_index_label_codes_and_map_columns():
    mu = codes(4, (1.0, 2.0, 3.0))
    maps = {"pca": np.arange(8).reshape(4, 2).astype(np.float32)}
    rows = list(csv.reader(io.StringIO(projection.encodings_csv(mu, list("abcd"), maps))))
    assert rows[0] == ["index", "label", "mu_z1", "mu_z2", "mu_z3", "pca_x", "pca_y"]
    assert len(rows) == 5 and rows[2][:2] == ["1", "b"] and rows[2][-2:] == ["2", "3"]
    assert float(rows[3][3]) == pytest.approx(float(mu[2, 1]), rel=1e-5)


def test_projector_tsv_holds_the_codes_and_their_labels():
    mu = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    vectors, metadata = projection.projector_tsv(mu, ["a", "b\tc", "d", "e", "f"])
    back = np.array([[float(v) for v in row.split("\t")] for row in vectors.splitlines()])
    np.testing.assert_allclose(back, mu, rtol=1e-5)
    rows = metadata.splitlines()
    assert rows[0] == "index\tlabel" and rows[2] == "1\tb c" and len(rows) == 6


def test_orient_undoes_a_refit_pcas_swap_and_mirror_but_not_a_real_turn():
    before = projection.pca(codes())[0]
    # The same cloud with its axes swapped and one mirrored, as a refit PCA may draw it.
    flipped = np.stack([before[:, 1], -before[:, 0]], 1)
    oriented, order = projection.orient(flipped, before)
    np.testing.assert_array_equal(oriented, before)
    assert order == [1, 0]
    # Codes that turned a little stay turned: orient only orders and signs the axes.
    c, s = np.cos(0.3), np.sin(0.3)
    turned = before @ np.array([[c, -s], [s, c]], np.float32)
    oriented, order = projection.orient(turned, before)
    np.testing.assert_array_equal(oriented, turned)
    assert order == [0, 1]
