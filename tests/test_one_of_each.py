"""One of each thing, where a copy is too short for the duplicates tool to see."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODE = {str(p.relative_to(REPO)): p.read_text() for folder in ("vae", "ui", "pages")
        for p in (REPO / folder).glob("*.py")} | {"app.py": (REPO / "app.py").read_text()}


def holding(pattern: str) -> list[str]:
    return sorted(name for name, text in CODE.items() if re.search(pattern, text, re.M))


def test_files_are_replaced_atomically_in_one_helper():
    assert holding(r"^[^#\n]*\bos\.replace\(") == ["vae/files.py"]


def test_the_checkpoint_format_number_is_defined_once():
    # The decoder payload's FORMAT numbers another format, the browser's.
    assert holding(r"^FORMAT = ") == ["vae/checkpoints.py", "vae/decoder_payload.py"]
    assert "FORMAT" not in CODE["vae/runner.py"]


def test_hidden_layer_sizes_have_one_parser():
    assert holding(r"^def parse_hidden\(") == ["vae/model_config.py"]
    users = holding(r"\bparse_hidden\b")
    assert {"vae/cli.py", "ui/train_form.py"} <= set(users), users


def test_a_zip_member_is_checked_in_one_place():
    assert holding(r"\.\.\" in .*split\(\"/\"\)|'\.\.' in .*split") == ["vae/zips.py"]


def test_a_version_is_named_by_its_key_not_its_folder():
    # The defect of docs/design.md §5: caches keyed by a version folder's name.
    assert holding(r"version\.name") == ["vae/checkpoints.py"]


def test_headings_are_drawn_by_the_helper_that_names_their_anchor():
    # Unnamed, each heading's anchor is slugified again in the browser at every redraw.
    assert holding(r"\bst(\.sidebar)?\.title\(|\.(header|subheader)\(|markdown\(f?[\"']#") == []
