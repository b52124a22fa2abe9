"""Derived data keys on what the weights are, never on a path, a name or an mtime."""

import json
import shutil

import numpy as np
from tiny_models import app_on, use_tree

from vae import cached_figures, checkpoints, disentanglement, projection
from vae.cached_figures import cached_evaluation, evaluation_file
from vae.derived import (
    ELBO_ONLY,
    encode_split,
    evaluate_checkpoint,
    metrics_file,
    tsne_file,
)
from vae.runner import RunSpec, train_run


def train(out, seed: int) -> checkpoints.Checkpoint:
    spec = RunSpec(model={"latent_dim": 4, "hidden": [32]},
                   train={"epochs": 3, "batch_size": 64, "threads": 1, "seed": seed})
    return train_run(spec, out).checkpoint


def map_coordinates(at) -> np.ndarray:
    import base64

    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][:-1]

    def values(axis):
        if isinstance(axis, list):
            return np.array(axis, float)
        return np.frombuffer(base64.b64decode(axis["bdata"]), dtype=axis["dtype"])

    return np.sort(np.concatenate([values(t["x"]) for t in traces]))


def test_a_model_retrained_under_a_deleted_ones_name_gets_its_own_map(tiny_models, tmp_path,
                                                                       monkeypatch):
    # The defect: the map and the codes were cached by path and version name, and a new model
    # under a reused name starts again at v000001, so it was shown the old model's map.
    tree, _ = use_tree(tiny_models, tmp_path, monkeypatch)
    path = tree / "runs" / "reused"
    old = train(path, seed=0)
    first = app_on("pages/map.py", "reused")
    assert not first.exception
    old_tsne = projection.cached_tsne(encode_split(path)["mu"], tsne_file(old), threads=1)

    checkpoints.delete(path)
    new = train(path, seed=1)
    assert new.version.name == old.version.name and new.key != old.key
    assert tsne_file(new) != tsne_file(old)
    # Same server (this process's st caches), same name, same version folder: new numbers.
    again = app_on("pages/map.py", "reused")
    assert not again.exception
    expected = np.sort(projection.pca(encode_split(path)["mu"])[0][:, 0])
    assert np.allclose(map_coordinates(again), expected, atol=1e-5)
    assert not np.allclose(map_coordinates(again), map_coordinates(first), atol=1e-3)
    # The old model's t-SNE is not offered for the new one: its own is being computed.
    again.radio(key="map_method").set_value("t-SNE").run()
    title = json.loads(again.get("plotly_chart")[0].proto.spec)["layout"]["xaxis"]["title"]
    if title["text"].startswith("t-SNE"):
        new_tsne = projection.load_cached(tsne_file(new), len(old_tsne))
        assert new_tsne is not None and not np.allclose(new_tsne, old_tsne)
    else:
        assert again.get("progress")


def test_every_derived_file_names_the_weights_and_the_deriving_code(tmp_path, monkeypatch):
    ckpt = train(tmp_path / "a", seed=0)
    files = {"evaluation": evaluation_file(ckpt, ELBO_ONLY), "metrics": metrics_file(ckpt),
             "tsne": tsne_file(ckpt)}
    for kind, file in files.items():
        assert ckpt.key in file.name and file.name.startswith(kind), file
        assert file.parent == ckpt.path / checkpoints.DERIVED
    # A definition's version is part of the name: bumping it orphans only that kind.
    monkeypatch.setattr(disentanglement, "VERSION", disentanglement.VERSION + 1)
    assert metrics_file(ckpt) != files["metrics"]
    assert evaluation_file(ckpt, ELBO_ONLY) == files["evaluation"]
    monkeypatch.setattr(cached_figures, "EVALUATION_VERSION",
                        cached_figures.EVALUATION_VERSION + 1)
    assert evaluation_file(ckpt, ELBO_ONLY) != files["evaluation"]


def test_the_key_is_the_weights_content(tmp_path):
    a = train(tmp_path / "a", seed=0)
    same = train(tmp_path / "same", seed=0)
    other = train(tmp_path / "other", seed=1)
    assert a.key == same.key != other.key
    # A fresh clone gives files new mtimes and inodes: the key is unchanged.
    shutil.copytree(a.path, tmp_path / "copy")
    copy = checkpoints.load(tmp_path / "copy")
    assert copy.key == a.key == checkpoints.current_key(tmp_path / "copy")
    # Saving other weights under the same name changes it at once.
    checkpoints.save(a.path, config=other.config, weights=other.weights(), history=other.history)
    assert checkpoints.current_key(a.path) == other.key


def test_derived_data_goes_with_rename_and_delete_and_old_versions_drop_theirs(tmp_path):
    ckpt = train(tmp_path / "a", seed=0)
    evaluate_checkpoint(ckpt.path, iwae_samples=ELBO_ONLY)
    encode_split(ckpt.path)
    assert len(list((ckpt.path / checkpoints.DERIVED).iterdir())) == 2
    renamed = checkpoints.load(checkpoints.rename(ckpt.path, "b"))
    assert cached_evaluation(renamed, iwae_samples=ELBO_ONLY) is not None

    other = train(tmp_path / "other", seed=1)
    # The previous version is still readable, so its data stays; one save later it goes.
    for _ in range(2):
        checkpoints.save(renamed.path, config=other.config, weights=other.weights(),
                         history=other.history)
    assert not list((renamed.path / checkpoints.DERIVED).iterdir())
    evaluate_checkpoint(renamed.path, iwae_samples=ELBO_ONLY)
    checkpoints.delete(renamed.path)
    assert not renamed.path.exists()


def test_shipped_models_read_their_own_derived_files_and_write_to_the_cache(tmp_path,
                                                                             monkeypatch):
    shipped, cache = tmp_path / "shipped", tmp_path / "cache"
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", shipped)
    monkeypatch.setattr(checkpoints, "CACHE_DIR", cache)
    ckpt = train(shipped / "m", seed=0)
    assert evaluation_file(ckpt, ELBO_ONLY).parent == cache / checkpoints.DERIVED
    # `make checkpoints` writes them into the model's folder, where git tracks them.
    monkeypatch.setenv(checkpoints.WRITE_SHIPPED_ENV, "1")
    result = evaluate_checkpoint(ckpt.path, iwae_samples=ELBO_ONLY)
    inside = ckpt.path / checkpoints.DERIVED / evaluation_file(ckpt, ELBO_ONLY).name
    assert inside.exists()
    monkeypatch.delenv(checkpoints.WRITE_SHIPPED_ENV)
    assert evaluation_file(ckpt, ELBO_ONLY) == inside
    assert cached_evaluation(ckpt, iwae_samples=ELBO_ONLY) == result


def test_caches_of_earlier_releases_are_removed_at_start(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path)
    for kind in ("eval", "metrics", "projection"):
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "0123456789abcdef.json").write_text("{}")
    (tmp_path / "uploads").mkdir()
    checkpoints.remove_legacy_caches()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]
