import re
import subprocess
import sys
from pathlib import Path

import vae


def test_library_never_imports_streamlit():
    modules = sorted(p.stem for p in Path(vae.__file__).parent.glob("*.py")
                     if p.stem != "__main__")
    code = ("import sys\n" + "".join(f"import vae.{m}\n" for m in modules)
            + "assert 'streamlit' not in sys.modules, 'vae imported streamlit'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # A lazy import inside a function would escape the check above; no line may import it.
    importing = re.compile(r"^\s*(import|from)\s+streamlit\b", re.MULTILINE)
    for path in Path(vae.__file__).parent.glob("*.py"):
        assert not importing.search(path.read_text()), f"{path.name} imports streamlit"


def test_every_cached_computation_says_what_it_does_while_it_runs():
    """Streamlit's default spinner shows the function's name ("Running _load(...)"): each
    st.cache_* in the app names its work in words, or shows none."""
    import ast

    root = Path(vae.__file__).parent.parent
    for path in [root / "app.py", *(root / "ui").glob("*.py"), *(root / "pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            for decorator in getattr(node, "decorator_list", []):
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute) and target.attr in ("cache_data",
                                                                          "cache_resource"):
                    keywords = [k.arg for k in getattr(decorator, "keywords", [])]
                    assert "show_spinner" in keywords, f"{path.name}: {node.name} spinner"


def test_listing_checkpoints_starts_without_torch(tmp_path):
    """`python -m vae list` answers in a fraction of a second because nothing it runs imports
    torch (2 s): the CLI, reading every checkpoint and checking its weights' shapes, and the
    cached figures."""
    code = ("import runpy, sys\nsys.argv = ['vae', 'list']\n"
            "try:\n    runpy.run_module('vae', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)\n")
    env = {"LATENT_LAB_RUNS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=Path(vae.__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    assert "fashion-vae" in result.stdout and result.stdout.split()[-1] == "False"
