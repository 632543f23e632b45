"""fastem.warmup() and ``python -m fastem warmup``: every compiled kernel, ready."""

import inspect
import re
import subprocess
import sys

import pytest

from conftest import needs_jit
from fastem import _passes, _warmup
from fastem._kernels import gaussian as _kg


def _kernels_the_passes_use():
    """Names of the fixed-signature kernels that fastem._passes runs from Python, and of
    every piece that the Gaussian kernels can call."""
    src = inspect.getsource(_passes)
    names = set(re.findall(r"prepared\(_k[bgk]\.(\w+)", src))
    names |= set(re.findall(r"_kg\.(gauss_\w+_blocks)", src))
    names |= {p.fn.py_func.__name__ for p in _kg.PIECES.values()}
    return names


def test_the_warmup_list_covers_every_kernel_the_passes_run():
    listed = {fn.py_func.__name__ if hasattr(fn, "py_func") else fn.__name__
              for _, fn, _ in _warmup._fixed_kernels()}
    missing = _kernels_the_passes_use() - listed
    assert not missing, f"fastem.warmup() does not prepare {sorted(missing)}"


@needs_jit
@pytest.mark.parametrize("jobs", [1, 2])
def test_warmup_leaves_each_kernel_with_its_one_signature(jobs):
    seconds = _warmup.warmup(dtypes=("float64",), jobs=jobs)
    assert seconds > 0
    for name, fn, sig in _warmup._fixed_kernels():
        assert [tuple(s) for s in fn.signatures] == [tuple(sig)], name


@needs_jit
def test_command_line_warmup():
    out = subprocess.run([sys.executable, "-m", "fastem", "warmup", "--no-public-kernels"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "everything ready" in out.stdout
    quiet = subprocess.run([sys.executable, "-m", "fastem", "warmup", "--quiet"],
                           capture_output=True, text=True, timeout=900)
    assert quiet.returncode == 0 and quiet.stdout == ""
    usage = subprocess.run([sys.executable, "-m", "fastem", "--help"], capture_output=True,
                           text=True)
    assert "warmup" in usage.stdout
