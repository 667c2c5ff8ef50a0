"""``tecktrack lab``: JupyterLab on the notebooks, localhost only, with a random token."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lab", help="start JupyterLab on notebooks/ (127.0.0.1, random token; what `make lab` "
                    "does)",
        description="Start JupyterLab (extra `lab`) on the notebooks folder, bound to "
                    "127.0.0.1 with a fresh random token, and print the URL to open. Ctrl-C "
                    "stops it.",
    )
    parser.add_argument("--port", type=int, default=8888, help="port (default 8888; taken: "
                        "an error rather than another port)")
    parser.add_argument("--dir", default=None, help="folder to serve (default: notebooks/)")
    parser.add_argument("--browser", action="store_true", help="also open a web browser")
    parser.set_defaults(func=_lab)


def _lab(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    from tecktrack.errors import TeckTrackError
    from tecktrack.lab.runner import notebooks_dir
    from tecktrack.lab.server import lab_command

    if importlib.util.find_spec("jupyterlab") is None:
        raise TeckTrackError("JupyterLab is not installed: pip install -e '.[lab]' (make run "
                             "does it)")
    if not 0 < args.port < 65536:
        raise TeckTrackError(f"--port must be in 1..65535, got {args.port}")
    server = lab_command(args.dir or notebooks_dir(), args.port, open_browser=args.browser)
    print(f"JupyterLab: {server.url}", flush=True)
    try:
        return subprocess.call(server.argv)
    except KeyboardInterrupt:
        return 0
