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
                        help="runs served at once (default 4); each network gets "
                             "cores // threads threads")
    parser.add_argument("--queue", type=int, default=4, metavar="N",
                        help="runs that may wait for a free thread; past that a request "
                             "gets 503 at once (default 4)")
    parser.add_argument("--max-run-s", type=float, default=60.0, metavar="S",
                        help="wall-clock cap of every run, and the largest request "
                             "'timeout' (default 60)")
    parser.add_argument("--stall-s", type=float, default=5.0, metavar="S",
                        help="a udp:// run ends after this many seconds without a datagram "
                             "(default 5)")
    parser.add_argument("--udp-host", action="append", default=None, metavar="HOST",
                        help="host a udp:// source may listen on; repeatable (default: "
                             "127.0.0.1, ::1, localhost)")
    parser.add_argument("--udp-ports", default="1024-65535", metavar="LOW-HIGH",
                        help="ports a udp:// source may listen on (default 1024-65535)")
    parser.add_argument("--token", default=None,
                        help="require 'Authorization: Bearer TOKEN' on every route but "
                             "/health (default: $TECKTRACK_TOKEN; needed for a --host other "
                             "than loopback)")
    parser.set_defaults(func=_serve)


def _port_range(text: str) -> tuple[int, int]:
    from tecktrack.errors import TeckTrackError

    low, sep, high = text.partition("-")
    try:
        ports = (int(low), int(high)) if sep else (int(low), int(low))
    except ValueError:
        ports = (0, -1)
    if not 1 <= ports[0] <= ports[1] <= 65535:
        raise TeckTrackError(f"--udp-ports must be LOW-HIGH within 1-65535, got {text!r}")
    return ports


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from tecktrack.errors import TeckTrackError
    from tecktrack.interface.api.app import ServiceConfig, make_server
    from tecktrack.interface.api.request import LOOPBACK_HOSTS
    from tecktrack.paths import data_dir, models_dir

    if not 0 <= args.port <= 65535 or args.threads < 1 or args.queue < 0:
        raise TeckTrackError("--port must be in 0..65535, --threads >= 1 and --queue >= 0")
    if not (args.max_run_s > 0 and args.stall_s > 0):
        raise TeckTrackError("--max-run-s and --stall-s must be > 0 seconds")
    token = args.token or os.environ.get("TECKTRACK_TOKEN") or None
    if not token and not _is_loopback(args.host):
        raise TeckTrackError(f"refusing to listen on {args.host} without a token: set --token "
                             "or TECKTRACK_TOKEN, or listen on 127.0.0.1")
    roots = tuple(Path(r) for r in args.data_root) if args.data_root else (data_dir(),)
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise TeckTrackError(f"--data-root folder(s) not found: {', '.join(missing)}")
    config = ServiceConfig(
        data_roots=tuple(r.resolve() for r in roots),
        models_root=Path(args.models_root) if args.models_root else models_dir(),
        runs_dir=Path(args.runs_dir) if args.runs_dir else None, threads=args.threads,
        queue=args.queue, max_run_s=args.max_run_s, stall_s=args.stall_s,
        udp_hosts=tuple(args.udp_host) if args.udp_host else LOOPBACK_HOSTS,
        udp_ports=_port_range(args.udp_ports), token=token)
    server = make_server(config, args.host, args.port)
    print(f"tecktrack serving on http://{args.host}:{server.effective_port} "
          f"(data roots: {', '.join(map(str, config.data_roots))}; "
          f"{'token required' if token else 'no token'})", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
