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
