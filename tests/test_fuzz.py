"""Run the fuzzers of fuzz_machine.py in a child process (issue point 6).

A segfault, an abort or a hang in fastem would kill pytest itself if the fuzz ran here;
in a child it becomes a failed test that shows the signal, the end of the child's output
(hypothesis' falsifying example, faulthandler's traceback) and the last calls it made.

Example counts are small by default so that CI stays quick once the kernels are compiled;
``FASTEM_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py`` fuzzes harder locally, and
``FASTEM_FUZZ_TIMEOUT`` (seconds per child, default 900) bounds a run.  With ``CI`` set
hypothesis is derandomized (the same examples every run).
"""

import os
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = float(os.environ.get("FASTEM_FUZZ_TIMEOUT", "900"))
TAIL = 12_000  # characters of the child's output shown on failure


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def run_child(which, tmp_path, examples=None):
    log = tmp_path / "last_calls.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH")) if p)
    env["PYTHONFAULTHANDLER"] = "1"
    env["FASTEM_FUZZ_LOG"] = str(log)
    env["FASTEM_FUZZ_TIMEOUT"] = str(TIMEOUT)
    code = f"import fuzz_machine; fuzz_machine.main({examples!r}, {which!r})"
    cmd = [sys.executable, "-c", code]
    try:
        proc = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout) + _text(exc.stderr)
        pytest.fail(f"fuzz child ({which}) still running after {TIMEOUT:.0f} s (a hang?)\n"
                    f"{_last_calls(log)}\n--- output (tail) ---\n{out[-TAIL:]}", pytrace=False)
    out = proc.stdout + ("\n--- stderr ---\n" + proc.stderr if proc.stderr.strip() else "")
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        pytest.fail(f"fuzz child ({which}) was killed by {name}: a crash in fastem.\n"
                    f"{_last_calls(log)}\n--- output (tail) ---\n{out[-TAIL:]}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"fuzz child ({which}) failed (exit {proc.returncode})\n"
                    f"--- output (tail) ---\n{out[-TAIL:]}", pytrace=False)
    # Passed: show the summary lines with -rA / -s.
    print(proc.stdout[-4000:])


def _last_calls(log):
    try:
        text = log.read_text()
    except OSError:
        return "(no call log)"
    return "--- last calls before it stopped (oldest first) ---\n" + text


def _examples():
    env = os.environ.get("FASTEM_FUZZ_EXAMPLES")
    return int(env) if env else None


def test_estimator_state_machine(tmp_path):
    """Random fit / set_params / predict / sample / warm-start sequences on odd inputs."""
    run_child("estimators", tmp_path, _examples())


def test_kmeans_state_machine(tmp_path):
    """KMeans through random call sequences (tests/fuzz_kmeans.py)."""
    run_child("kmeans", tmp_path, _examples())


def test_selection_state_machine(tmp_path):
    """GaussianMixtureSelection / BinomialMixtureSelection through random call sequences
    (tests/fuzz_selection.py)."""
    run_child("selection", tmp_path, _examples())


def test_kernel_argument_fuzz(tmp_path):
    """Every public kernel with wrong shapes, lengths, mode codes and value domains."""
    run_child("kernels", tmp_path, _examples())


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
                    reason="type signatures only matter to compiled kernels")
def test_kernel_argument_types(tmp_path):
    """A few wrong dtypes / ranks / layouts (each distinct one costs a compilation)."""
    run_child("kernel-types", tmp_path, "all" if os.environ.get("FASTEM_FUZZ_ALL_TYPES")
              else None)
