"""The engine must import without the UI libraries."""

import subprocess
import sys


def test_core_loads_neither_textual_nor_rich():
    code = ("import sys, optimstep.core, optimstep.core.trace; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "[]"


def test_core_import_prints_no_warning():
    result = subprocess.run([sys.executable, "-W", "default", "-c", "import optimstep.core"],
                            capture_output=True, text=True, check=True)
    assert result.stderr == ""
