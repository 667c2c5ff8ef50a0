"""``tecktrack serve``: the HTTP inference API under waitress (a production WSGI server)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve``."""
    parser = subparsers.add_parser(
        "serve", help="serve POST /run_inference, GET /health, GET /models over HTTP",
        description="Start the inference HTTP API under waitress. Sources must be udp:// URLs "
                    "or paths inside a --data-root; models are the folders under models/.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--data-root", action="append", default=None, metavar="DIR",
                        help="folder that request paths must stay inside; repeatable "
                             "(default: data/)")
    parser.add_argument("--models-root", default=None, metavar="DIR",
                        help="folder of model folders (default: models/)")
    parser.add_argument("--runs-dir", default=None, metavar="DIR",
                        help="parent of run folders (default: results/runs)")
    parser.add_argument("--threads", type=int, default=4,
                        help="requests served at once (default 4)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tecktrack.errors import TeckTrackError
    from tecktrack.interface.api.app import ServiceConfig, make_server
    from tecktrack.paths import data_dir, models_dir

    if not 0 <= args.port <= 65535 or args.threads < 1:
        raise TeckTrackError("--port must be in 0..65535 and --threads >= 1")
    roots = tuple(Path(r) for r in args.data_root) if args.data_root else (data_dir(),)
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise TeckTrackError(f"--data-root folder(s) not found: {', '.join(missing)}")
    config = ServiceConfig(
        data_roots=tuple(r.resolve() for r in roots),
        models_root=Path(args.models_root) if args.models_root else models_dir(),
        runs_dir=Path(args.runs_dir) if args.runs_dir else None, threads=args.threads)
    server = make_server(config, args.host, args.port)
    print(f"tecktrack serving on http://{args.host}:{server.effective_port} "
          f"(data roots: {', '.join(map(str, config.data_roots))})", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
