"""JupyterLab for the notebooks: localhost only, a fresh random token, no kernel warnings.

:func:`lab_command` builds the ``jupyter lab`` command line that ``make lab`` (``tecktrack
lab``) and the browser tests start: bound to ``127.0.0.1``, a token from :mod:`secrets`, no
port fallback (the printed URL is the one that works), and kernels provisioned with CurveZMQ
keys so ipykernel does not warn about plain-text TCP.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabServer", "lab_command"]


@dataclass(frozen=True)
class LabServer:
    """How to start one JupyterLab and where it will answer.

    Attributes
    ----------
    argv : list of str
        The command line (``python -m jupyterlab ...``).
    url : str
        ``http://127.0.0.1:<port>/lab?token=<token>``.
    token : str
        The random token the server requires.
    """

    argv: list[str]
    url: str
    token: str


def lab_command(notebook_dir: str | Path, port: int = 8888, *, token: str | None = None,
                open_browser: bool = False, python: str | None = None) -> LabServer:
    """The ``jupyter lab`` command serving ``notebook_dir`` on ``127.0.0.1:port``.

    Examples
    --------
    >>> server = lab_command("notebooks", 9999, token="abc")
    >>> server.url
    'http://127.0.0.1:9999/lab?token=abc'
    >>> "--ServerApp.ip=127.0.0.1" in server.argv and "--ServerApp.port_retries=0" in server.argv
    True
    """
    token = token if token is not None else secrets.token_hex(24)
    argv = [python or sys.executable, "-m", "jupyterlab",
            f"--ServerApp.root_dir={Path(notebook_dir).resolve()}",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={int(port)}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.open_browser={open_browser}",
            "--KernelManager.transport_encryption=auto",
            "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:     # containers often run as root
        argv.append("--ServerApp.allow_root=True")
    return LabServer(argv, f"http://127.0.0.1:{int(port)}/lab?token={token}", token)
