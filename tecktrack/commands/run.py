"""``tecktrack run``: the main job - build the default world if missing, run every notebook."""

from __future__ import annotations

import argparse
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="the main job: default world + all notebooks (what `make run` does)",
        description="Generate the embedded default world (synthetic dataset, variants, video) if "
                    "it is missing, then execute all analysis notebooks with papermill into "
                    "results/notebooks/ and print where the results are.",
    )
    parser.add_argument("--out", default=None, help="notebook output folder "
                        "(default: results/notebooks)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        dest="parameters", help="override a notebook parameter (YAML value)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tecktrack.errors import TeckTrackError
    from tecktrack.lab.runner import (
        list_notebooks,
        parse_parameters,
        resolve_path_parameters,
        run_notebooks,
    )
    from tecktrack.paths import models_dir, results_dir
    from tecktrack.synth import ensure_default_world

    start = time.perf_counter()
    world = ensure_default_world()
    for name, path in world.items():
        print(f"default world: {name:<8} {path}")
    missing = [m for m in ("demo-n", "demo-s") if not (models_dir() / m / "model.onnx").is_file()]
    if missing:
        raise TeckTrackError(f"demo models missing from {models_dir()}: {', '.join(missing)} "
                             "(retrain with `tecktrack train`, see README)")
    if not list_notebooks():
        raise TeckTrackError("no notebooks found in notebooks/")
    runs = run_notebooks(None, resolve_path_parameters(parse_parameters(args.parameters)),
                         args.out)
    failed = [r for r in runs if not r.ok]
    out = runs[0].output.parent
    print(f"\n{len(runs) - len(failed)} of {len(runs)} notebooks ran in "
          f"{time.perf_counter() - start:.0f} s.")
    print(f"Executed notebooks: {out}")
    print(f"Figures (PNG):      {results_dir() / 'figures'}")
    print(f"Tables (CSV):       {results_dir() / 'tables'}")
    return 1 if failed else 0
