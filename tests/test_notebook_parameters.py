"""``tecktrack notebooks run -p``: relative paths resolve where they were typed, unknown
parameters are an error naming the known ones, and kernels start without warnings."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import tecktrack.lab.runner as runner
from tecktrack.cli import main
from tecktrack.errors import TeckTrackError
from tecktrack.lab.runner import (
    check_parameters,
    declared_parameters,
    resolve_path_parameters,
    run_notebook,
)


def _tiny(folder: Path, name: str, params: str, *cells: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(params), *(new_code_cell(c) for c in cells)])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / name
    nbformat.write(nb, path)
    return path


def test_relative_paths_resolve_against_the_given_directory(tmp_path):
    got = resolve_path_parameters(
        {"data": "../my/data.yaml", "noise": "label_noise.json", "out_dir": "results/x",
         "abs": "/srv/d.yaml", "model": "demo-s", "video": "udp://127.0.0.1:5000",
         "split": "val", "n": 4, "none": None, "list": [0.2, 0.5]}, tmp_path / "work")
    assert got["data"] == str(tmp_path / "my" / "data.yaml")
    assert got["noise"] == str(tmp_path / "work" / "label_noise.json")
    assert got["out_dir"] == str(tmp_path / "work" / "results" / "x")
    assert got["abs"] == "/srv/d.yaml"
    assert {k: got[k] for k in ("model", "video", "split", "n", "none", "list")} == {
        "model": "demo-s", "video": "udp://127.0.0.1:5000", "split": "val", "n": 4,
        "none": None, "list": [0.2, 0.5]}


def test_declared_parameters_of_a_real_notebook():
    declared = declared_parameters(runner.notebooks_dir() / "03_hard_negative_mining.ipynb")
    assert {"data", "model", "top_n", "seed", "out_dir"} <= set(declared)
    assert "modle" not in declared


def test_an_unknown_parameter_is_an_error_naming_the_known_ones(tmp_path):
    nb = _tiny(tmp_path, "a.ipynb", "data = 'x.yaml'\ntop_n = 3", "print(data)")
    with pytest.raises(TeckTrackError, match=r"unknown parameter\(s\) modle for a; known "
                                             r"parameters: data, top_n"):
        run_notebook(nb, tmp_path / "out", {"modle": "demo-s"})
    assert not (tmp_path / "out" / "a.ipynb").exists()


def test_parameters_go_only_to_the_notebooks_that_declare_them(tmp_path):
    a = _tiny(tmp_path, "a.ipynb", "seed = 0")
    b = _tiny(tmp_path, "b.ipynb", "fps = 25.0")
    split = check_parameters({"seed": 3, "fps": 5.0}, [a, b])
    assert split == {a: {"seed": 3}, b: {"fps": 5.0}}
    with pytest.raises(TeckTrackError, match="for the 2 notebooks; known parameters: fps, seed"):
        check_parameters({"sede": 3}, [a, b])


def test_cli_rejects_a_typo_with_the_known_parameters(capsys):
    assert main(["notebooks", "run", "03", "-p", "modle", "demo-s", "--out", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) modle for 03_hard_negative_mining" in err
    assert "known parameters: " in err and "model" in err and "top_n" in err


@pytest.mark.timeout(180)
def test_cli_resolves_relative_paths_from_the_callers_directory(tmp_path, monkeypatch, capfd):
    book = tmp_path / "book"
    book.mkdir()
    _tiny(book, "a_show.ipynb", "data = '../data/synth/data.yaml'",
          "from pathlib import Path\nprint('DATA', data, Path(data).is_file())")
    monkeypatch.setattr(runner, "notebooks_dir", lambda: book)
    caller = tmp_path / "somewhere" / "deep"
    caller.mkdir(parents=True)
    (tmp_path / "somewhere" / "my").mkdir()
    (tmp_path / "somewhere" / "my" / "data.yaml").write_text("names: [a]\n")
    monkeypatch.chdir(caller)
    assert main(["notebooks", "run", "a", "-p", "data", "../my/data.yaml", "--out", "out"]) == 0
    executed = nbformat.read(caller / "out" / "a_show.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert f"DATA {tmp_path / 'somewhere' / 'my' / 'data.yaml'} True" in printed
    # the kernel was provisioned with CurveZMQ keys: no plain-TCP warning on the console
    assert "without encryption" not in capfd.readouterr().err


def test_lab_command_binds_localhost_with_a_fresh_token_and_encrypted_kernels(tmp_path):
    from tecktrack.lab.server import lab_command

    a, b = lab_command(tmp_path, 8899), lab_command(tmp_path, 8899)
    assert a.token != b.token and len(a.token) >= 32
    assert a.url == f"http://127.0.0.1:8899/lab?token={a.token}"
    assert "--ServerApp.ip=127.0.0.1" in a.argv and "--ServerApp.port_retries=0" in a.argv
    assert f"--IdentityProvider.token={a.token}" in a.argv
    assert "--KernelManager.transport_encryption=auto" in a.argv
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in a.argv


def test_lab_cli_refuses_a_bad_port(capsys):
    assert main(["lab", "--port", "70000"]) == 2
    assert "--port must be in 1..65535" in capsys.readouterr().err
