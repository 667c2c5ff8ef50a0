"""The analysis notebooks: structure, committed outputs, papermill reruns, failure reports.

nbval (configured in pyproject.toml) re-executes the committed notebooks and compares their
outputs; these tests check what nbval cannot: one ``parameters`` cell each with defaults on
the embedded world, deterministic committed outputs, reruns with other parameters into a
temporary folder, and the failing-cell report of :mod:`tecktrack.lab.runner`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tecktrack.cli import main
from tecktrack.errors import TeckTrackError
from tecktrack.lab.runner import (
    list_notebooks,
    parse_parameters,
    run_notebook,
    run_notebooks,
    select_notebooks,
)
from tecktrack.paths import models_dir

NAMES = ["01_data_exploration", "02_model_performance", "03_hard_negative_mining",
         "04_augmentation_analysis", "05_udp_streaming_demo", "06_dataset_cleaning",
         "07_tracking"]

#: Small, non-default parameters that make every notebook cheap (unknown ones are ignored).
SMALL = {
    "01_data_exploration": {"split": "val", "n_samples": 2},
    "02_model_performance": {"n_images": 6, "n_timing": 2, "thresholds": [0.3, 0.6]},
    "03_hard_negative_mining": {"n_images": 6, "top_n": 2, "n_show": 1},
    "04_augmentation_analysis": {"n_images": 6, "top_n": 1, "ops": "flip,rotate:10",
                                 "n_show": 1},
    "05_udp_streaming_demo": {"max_frames": 8, "fps": 50.0, "timeout": 1.0, "n_show": 2},
    "06_dataset_cleaning": {"n_images": 8, "per_outcome": 1, "thresholds": [0.5]},
    "07_tracking": {"drop_rate": 5, "min_length": 3},
}


def _notebook(path: Path):
    return nbformat.read(path, as_version=4)


def _code(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _parameters(nb) -> dict:
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    tree = ast.parse(cell.source)
    return {t.id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) for t in node.targets}


@pytest.fixture(scope="module")
def notebooks() -> dict[str, Path]:
    return {p.stem: p for p in list_notebooks()}


def test_the_notebooks_exist_in_order(notebooks):
    assert list(notebooks) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_one_parameters_cell_first_with_defaults_on_the_embedded_world(notebooks, name):
    nb = _notebook(notebooks[name])
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    code = _code(nb)
    assert code[0] is tagged[0]
    params = _parameters(nb)
    assert params["out_dir"] == "../results"
    for key, value in params.items():
        if isinstance(value, str) and "/" in value:   # paths: relative to notebooks/
            assert value.startswith("../data/") or value == "../results", (key, value)
            assert (notebooks[name].parent / value).resolve().is_relative_to(
                notebooks[name].parent.parent)
    assert set(SMALL[name]) <= set(params)              # the test's overrides exist
    # one library call sets up every notebook (it builds the default world on a fresh clone)
    assert "figures, tables = notebook_setup(out_dir)" in code[1].source
    assert "ensure_default_world" not in code[1].source and "set_option" not in code[1].source


@pytest.mark.parametrize("name", NAMES)
def test_committed_outputs_are_complete_and_free_of_volatile_text(notebooks, name):
    nb = _notebook(notebooks[name])
    code = _code(nb)
    assert all(c.execution_count is not None for c in code), "commit the executed notebook"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    ignored = [c for c in code if c.source.startswith("# NBVAL_IGNORE_OUTPUT")]
    for cell in ignored:   # only timing / resource cells may escape the comparison
        assert re.search(r"time_callable|metrics", cell.source), cell.source
    assert len(ignored) <= 1
    compared = [o for c in code if c not in ignored for o in c.outputs]
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for o in compared)
    assert not [o for o in compared if o.output_type == "error"]
    assert not [o for o in compared if o.get("name") == "stderr"], "warnings in the outputs"
    assert str(Path.home()) not in text and "/tmp/" not in text
    assert not re.search(r"\d{8}-\d{6}-[0-9a-f]{6}", text)      # run ids


def test_parse_parameters_types_values_as_yaml():
    got = parse_parameters([["n_images", "5"], ["conf", "0.25"], ["model", "demo-s"],
                            ["split", "null"], ["thresholds", "[0.2, 0.5]"],
                            ["ops", "flip,rotate:10"], ["text", "[unclosed"]])
    assert got == {"n_images": 5, "conf": 0.25, "model": "demo-s", "split": None,
                   "thresholds": [0.2, 0.5], "ops": "flip,rotate:10", "text": "[unclosed"}
    with pytest.raises(TeckTrackError, match="not a valid Python identifier"):
        parse_parameters([["top-n", "5"]])


def test_select_notebooks_by_prefix_stem_or_file_name():
    assert [p.stem for p in select_notebooks(["02", "05_udp_streaming_demo",
                                              "06_dataset_cleaning.ipynb"])] == [
        "02_model_performance", "05_udp_streaming_demo", "06_dataset_cleaning"]
    assert [p.stem for p in select_notebooks(None)] == NAMES
    with pytest.raises(TeckTrackError, match="'0' is ambiguous"):
        select_notebooks(["0"])
    with pytest.raises(TeckTrackError, match="'08' matches no notebook; available: 01_data"):
        select_notebooks(["08"])


def test_notebooks_list_command(capsys):
    assert main(["notebooks", "list"]) == 0
    assert capsys.readouterr().out.split() == [f"{n}.ipynb" for n in NAMES]


def _tiny(folder: Path, name: str, *cells: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.mark.timeout(180)
def test_a_failing_notebook_names_the_cell_and_keeps_its_partial_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    broken = _tiny(src, "a_broken.ipynb", "x = 1", "print('before', x)",
                   "y = x * 2\nraise ValueError(f'boom {y}')", "print('after')")
    fine = _tiny(src, "b_fine.ipynb", "x = 1", "print('fine', x)")
    runs = run_notebooks(None, {"x": 21}, tmp_path / "out", folder=src)
    assert [r.name for r in runs] == ["a_broken.ipynb", "b_fine.ipynb"]
    bad, good = runs
    assert not bad.ok and good.ok and good.error is None
    # 0-based index in the output notebook (which holds papermill's injected cell) + count
    assert re.fullmatch(r"cell 3 of the executed notebook \(execution count 4, starts with "
                        r"'y = x \* 2'\) raised "
                        r"ValueError: boom 42", bad.error), bad.error
    partial = nbformat.read(bad.output, as_version=4)
    outputs = ["".join(o.get("text", "") for o in c.get("outputs", [])) for c in partial.cells]
    assert "before 21\n" in outputs and "after\n" not in outputs
    assert bad.output.parent == tmp_path / "out" and broken.read_text() != bad.output.read_text()
    done = nbformat.read(good.output, as_version=4)
    assert "fine 21\n" in ["".join(o.get("text", "") for o in c.outputs) for c in done.cells
                           if c.cell_type == "code"]
    assert nbformat.read(fine, as_version=4).cells[1].outputs == []    # input untouched


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_notebook_reruns_with_smaller_parameters_into_a_temporary_folder(
        notebooks, tmp_path):
    missing = [m for m in ("demo-n", "demo-s") if not (models_dir() / m / "model.onnx").is_file()]
    if missing:
        pytest.skip(f"demo models not trained yet: {missing}")
    out = tmp_path / "results"
    for name in NAMES:
        params = {**SMALL[name], "out_dir": str(out)}
        run = run_notebook(notebooks[name], tmp_path / "executed", params)
        assert run.ok, f"{name}: {run.error}"
        executed = nbformat.read(run.output, as_version=4)
        injected = [c for c in executed.cells
                    if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and f'out_dir = "{out}"' in injected[0].source
        assert list((out / "figures").glob(f"{name[:2]}_*.png")), name
        assert list((out / "tables").glob(f"{name[:2]}_*.csv")), name
    # the smaller parameters really applied
    assert len((out / "tables" / "03_hard_negatives.csv").read_text().splitlines()) == 1 + 2
    assert len((out / "tables" / "05_stream_frames.csv").read_text().splitlines()) == 1 + 8
    assert (out / "runs").is_dir()


def test_notebook_setup_builds_the_world_and_returns_the_output_folders(tmp_path):
    import pandas as pd

    from tecktrack.lab import notebook_setup
    from tecktrack.paths import data_dir

    figures, tables = notebook_setup(tmp_path / "out", width=111)
    assert (figures, tables) == (tmp_path / "out" / "figures", tmp_path / "out" / "tables")
    assert pd.get_option("display.width") == 111
    assert (data_dir() / "synth" / "data.yaml").is_file()
    pd.reset_option("display.width")
