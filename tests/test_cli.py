"""The command line (issue 15, point 1): fit / predict / score / select on CSV, .npy
(and parquet when pyarrow is there), progress on stderr, one-line errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import fastem
from fastem import cli

DATA = os.path.join(os.path.dirname(__file__), "data")
FAITHFUL = os.path.join(DATA, "faithful.csv")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_predict_score_round_trip(tmp_path, capsys):
    model = str(tmp_path / "m.json")
    code, out, err = run(capsys, "fit", FAITHFUL, "--components", "3", "--covariance-type",
                         "tied", "--random-state", "0", "--output", model)
    assert code == 0, err
    assert "converged: True" in out and "BIC:" in out and "(eruptions, waiting)" in out
    assert "Iteration 1" in err and "log-likelihood" in err  # progress on stderr
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    ref = fastem.GaussianMixture(3, covariance_type="tied", random_state=0).fit(X)
    assert f"BIC: {ref.bic(X):.6f}" in out
    code, out, err = run(capsys, "predict", model, FAITHFUL)
    lines = out.split()
    assert code == 0 and lines[0] == "label" and len(lines) == X.shape[0] + 1
    np.testing.assert_array_equal(np.array(lines[1:], dtype=int), ref.predict(X))
    proba = tmp_path / "p.csv"
    code, out, err = run(capsys, "predict", model, FAITHFUL, "--proba", "-o", str(proba))
    P = np.loadtxt(proba, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(P, ref.predict_proba(X))  # repr: exact floats
    code, out, err = run(capsys, "score", model, FAITHFUL)
    assert float(out) == pytest.approx(ref.score(X), rel=1e-9)
    code, out, err = run(capsys, "fit", FAITHFUL, "-k", "2", "-o", model, "--quiet")
    assert code == 0 and err == ""


def test_select_prints_the_criteria_table(tmp_path, capsys):
    best = str(tmp_path / "best.json")
    code, out, err = run(capsys, "select", FAITHFUL, "-k", "1-3", "--random-state", "0",
                         "--covariance-types", "tied,diag", "-q", "-o", best)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("n_components,covariance_type,log_likelihood")
    assert len(lines) == 1 + 6 + 2
    assert "'n_components': 3, 'covariance_type': 'tied'" in lines[-2]
    assert fastem.load(best).n_components == 3


def test_npy_binomial_and_columns(tmp_path, capsys):
    rng = np.random.default_rng(0)
    C = rng.binomial(10, np.array([0.2, 0.7])[rng.integers(0, 2, 300)][:, None], (300, 2))
    np.save(tmp_path / "c.npy", C.astype(float))
    model = str(tmp_path / "b.json")
    code, out, err = run(capsys, "fit", str(tmp_path / "c.npy"), "-k", "2", "--model",
                         "binomial", "--trials", "10", "--random-state", "0", "-o", model, "-q")
    assert code == 0, err
    assert "probs[1]" in out
    code, out, err = run(capsys, "score", model, str(tmp_path / "c.npy"), "--trials", "10")
    assert code == 0 and float(out) < 0
    csv = tmp_path / "mixed.csv"
    csv.write_text("name,a,b\nx,1.0,2\ny,,3\nz,2.5,4\nw,3,5\n")  # an empty cell: missing
    code, out, err = run(capsys, "fit", str(csv), "-k", "1", "-o", model, "-q")
    assert code == 1 and "column 'name' is not numeric" in err and "--columns" in err
    code, out, err = run(capsys, "fit", str(csv), "-k", "1", "-o", model, "-q",
                         "--columns", "a,b")
    assert code == 0, err


def test_parquet_when_pyarrow_is_installed(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    pq.write_table(pa.table({"eruptions": X[:, 0], "waiting": X[:, 1]}), tmp_path / "f.parquet")
    code, out, err = run(capsys, "fit", str(tmp_path / "f.parquet"), "-k", "2", "-q", "-o",
                         str(tmp_path / "m.json"))
    assert code == 0, err


@pytest.mark.parametrize("argv, message", [
    (["predict", "nope.json", FAITHFUL], "nope.json: no such file"),
    (["fit", "nope.csv", "-k", "2", "-o", "m.json"], "nope.csv: no such file"),
    (["fit", FAITHFUL, "-k", "x", "-o", "m.json"], "--components"),
    (["fit", FAITHFUL, "-k", "2", "--trials", "3", "-o", "m.json"], "--trials is for"),
])
def test_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_csv_and_wrong_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    code, out, err = run(capsys, "fit", "ragged.csv", "-k", "1", "-o", "m.json")
    assert code == 1 and "line 3 has 1 fields, expected 2" in err
    run(capsys, "fit", FAITHFUL, "-k", "2", "-o", "m.json", "-q")
    code, out, err = run(capsys, "predict", "m.json", os.path.join(DATA, "iris.csv"))
    assert code == 1 and "no column 'eruptions', 'waiting' of the model's 2" in err
    iris = np.loadtxt(os.path.join(DATA, "iris.csv"), delimiter=",", skiprows=1)
    np.savetxt("iris.csv", iris, delimiter=",")  # no header: the columns go by position
    code, out, err = run(capsys, "predict", "m.json", "iris.csv")
    assert code == 1 and "4 features" in err and "expecting 2" in err
    with pytest.raises(ValueError):
        cli.main(["--debug", "predict", "m.json", "iris.csv"])


def test_a_model_takes_its_columns_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    run(capsys, "fit", FAITHFUL, "-k", "2", "--random-state", "0", "-o", "m.json", "-q")
    model = fastem.load("m.json")
    assert list(model.feature_names_in_) == ["eruptions", "waiting"]
    # the same data with the columns swapped and one more: the same answers
    with open("swapped.csv", "w") as f:
        f.write("waiting,id,eruptions\n")
        for i, (e, w) in enumerate(X):
            f.write(f"{float(w)!r},{i},{float(e)!r}\n")
    np.save("X.npy", X)  # no names: by position
    outs = [run(capsys, "predict", "m.json", data, "--proba")[1]
            for data in (FAITHFUL, "swapped.csv", "X.npy")]
    assert outs[0] == outs[1] == outs[2]
    assert run(capsys, "score", "m.json", "swapped.csv")[1] == \
        run(capsys, "score", "m.json", FAITHFUL)[1]
    code, out, err = run(capsys, "predict", "m.json", "swapped.csv", "--columns", "waiting")
    assert code == 1 and "no column 'eruptions' of the model's 2" in err
    # a model fitted on a file without names takes any file's columns by position
    run(capsys, "fit", "X.npy", "-k", "2", "--random-state", "0", "-o", "n.json", "-q")
    assert not hasattr(fastem.load("n.json"), "feature_names_in_")
    assert run(capsys, "predict", "n.json", FAITHFUL, "--proba")[1] == outs[0]
    code, out, err = run(capsys, "select", FAITHFUL, "-k", "1-2", "--random-state", "0",
                         "-q", "-o", "best.json")
    assert code == 0 and list(fastem.load("best.json").feature_names_in_) == \
        ["eruptions", "waiting"]


def test_python_dash_m_and_the_console_script(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fastem", "score", "nope.json", FAITHFUL],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 1 and "no such file" in out.stderr
    script = os.path.join(os.path.dirname(sys.executable), "fastem")
    if not os.path.exists(script):
        pytest.skip("fastem is not installed as a package here (no console script)")
    out = subprocess.run([script, "fit", FAITHFUL, "-k", "2", "-q", "-o", "m.json"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0 and (tmp_path / "m.json").exists()


_CELLS = ["1", "-2.5", "0", "3e2", "nan", "NA", "", " 4 ", "inf", "-inf", "1e999", "abc",
          '"5,5"', "0x10", "١٢", "1_000", "True", "-0"]


@st.composite
def _csv_files(draw):
    d = draw(st.integers(1, 4))
    clean = draw(st.integers(0, 9)) < 7  # mostly files that fit, so that predict runs
    if clean:
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
        rows = [[f"{v:.6g}" for v in rng.normal(0, 3, d)] for _ in range(draw(
            st.integers(3, 30)))]
        if draw(st.booleans()):
            rows.insert(0, ["a", "b", "c", "d"][:d])
        if draw(st.booleans()):  # a missing cell
            rows[-1][0] = draw(st.sampled_from(["", "nan", "NA"]))
        return ("\n".join(",".join(r) for r in rows) + "\n").encode("utf-8")
    n = draw(st.integers(0, 12))
    rows = []
    if draw(st.booleans()):  # a header (names, possibly duplicated or numeric-looking)
        rows.append([draw(st.sampled_from(["a", "b", "a", "x0", "1", ""])) for _ in range(d)])
    for _ in range(n):
        width = d if draw(st.integers(0, 9)) else draw(st.integers(0, d + 1))  # some ragged
        rows.append([draw(st.sampled_from(_CELLS[:8] if draw(st.integers(0, 3)) else _CELLS))
                     for _ in range(width)])
    text = "\n".join(",".join(r) for r in rows) + ("\n" if draw(st.booleans()) else "")
    if draw(st.integers(0, 19)) == 0:
        return text.encode("utf-8")[:-1] + b"\xff"  # not UTF-8
    return text.encode("utf-8")


@settings(max_examples=max(10, settings().max_examples // 2))  # each example fits a model
@given(data=st.data(), content=_csv_files())
def test_any_csv_gives_a_result_or_one_error_line(data, content):
    """fit (then predict and score, sometimes select) on random CSV files, with random
    --columns, --model and --trials: exit status 0 with output, or 1 with one line on
    stderr; never a traceback."""
    import contextlib
    import io as _io
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.csv")
        with open(path, "wb") as f:
            f.write(content)
        model = os.path.join(tmp, "m.json")
        argv = ["fit", path, "-k", data.draw(st.sampled_from(["1", "2", "1", "2", "3", "0",
                                                             "x"])),
                "-o", model, "-q", "--max-iter", "5"]
        if data.draw(st.integers(0, 3)) == 0:
            argv += ["--columns", data.draw(st.sampled_from(["a", "0", "0,1", "b,a", "9", ""]))]
        if data.draw(st.integers(0, 3)) == 0:
            argv += ["--model", "binomial", "--trials", data.draw(st.sampled_from(["5", "0", "x"]))]
        runs = [argv, ["predict", model, path], ["predict", model, path, "--proba"],
                ["score", model, path]]
        if data.draw(st.integers(0, 4)) == 0:  # a small selection on the same file
            runs.append(["select", path, "-k", data.draw(st.sampled_from(["1-2", "2", "3-1",
                                                                         "x", "0-2"])),
                         "--covariance-types", data.draw(st.sampled_from(["diag", "full,x"])),
                         "-q", "--max-iter", "5"])
        for i, args in enumerate(runs):
            out, err = _io.StringIO(), _io.StringIO()
            with contextlib.redirect_stderr(err):
                code = cli.main(args, out=out)
            err = err.getvalue()
            event(f"{args[0]} exit {code}")
            assert "Traceback" not in err
            if code:
                assert code == 1 and err.count("\n") == 1 and err.startswith(
                    f"fastem {args[0]}: error: "), err
                if i == 0:
                    return  # no model to predict with
            else:
                assert out.getvalue() or args[0] == "predict" and "-o" in args
