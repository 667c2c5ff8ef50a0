"""``tecktrack notebooks run``: batch reruns of the analysis notebooks with papermill."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "notebooks", help="rerun the analysis notebooks with papermill",
        description="Batch reruns of the parameterised notebooks in notebooks/.",
    )
    sub = parser.add_subparsers(dest="notebooks_command", metavar="ACTION", required=True)
    run = sub.add_parser(
        "run", help="execute notebooks with papermill",
        description="Execute notebooks (all by default) with papermill. Names may be file names, "
                    "stems or number prefixes (01, 02_model_performance). A failed notebook names "
                    "the failing cell and still writes its partial output.",
    )
    run.add_argument("names", nargs="*", metavar="NAME", help="notebooks to run (default: all)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                     dest="parameters",
                     help="override a parameter (value parsed as YAML; relative paths are taken "
                          "from the current directory; unknown names are an error)")
    run.add_argument("--out", default=None, help="output folder (default: results/notebooks)")
    run.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    run.set_defaults(func=_run)
    lst = sub.add_parser("list", help="list the notebooks")
    lst.set_defaults(func=_list)


def _run(args: argparse.Namespace) -> int:
    from tecktrack.lab.runner import parse_parameters, resolve_path_parameters, run_notebooks

    runs = run_notebooks(args.names, resolve_path_parameters(parse_parameters(args.parameters)),
                         args.out, kernel_name=args.kernel)
    failed = [r for r in runs if not r.ok]
    print(f"{len(runs) - len(failed)} of {len(runs)} notebooks ran; outputs in "
          f"{runs[0].output.parent if runs else args.out}")
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    from tecktrack.lab.runner import list_notebooks

    for path in list_notebooks():
        print(path.name)
    return 0
