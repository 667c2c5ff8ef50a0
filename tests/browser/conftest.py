"""A real JupyterLab on a copy of the notebooks, driven by Debian's Chromium.

`make test-browser` runs these (plain `make test` does not collect tests/browser). Chromium
comes from apt (`/usr/bin/chromium`, or ``TECKTRACK_CHROMIUM``): Playwright downloads no
browser here. JupyterLab listens on a free localhost port with a random token and is stopped
by its process id at teardown; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "results" / "screenshots"
#: Smaller parameters for the copies (the browser test checks behaviour, not the numbers).
SMALL = {"02_model_performance": {"n_images": 30, "n_timing": 2},
         "06_dataset_cleaning": {"n_images": 16, "n_cards": 8}}
START_TIMEOUT = 90.0


def _chromium() -> str:
    path = os.environ.get("TECKTRACK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.skip(f"Chromium not found at {path} (apt-get install chromium; make test-browser "
                    "does it)")
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, not a Playwright download; no sandbox when running as root."""
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return {**browser_type_launch_args, "executable_path": _chromium(), "args": args}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_notebooks(root: Path) -> Path:
    book = root / "notebooks"
    book.mkdir()
    for nb_path in sorted((REPO / "notebooks").glob("0*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        extra = SMALL.get(nb_path.stem, {})
        if extra:
            params.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in extra.items())
        nbformat.write(nb, book / nb_path.name)
    (root / "data").symlink_to(REPO / "data", target_is_directory=True)
    return book


class Lab:
    """A running JupyterLab: its URL, token, process and the copy's folders."""

    def __init__(self, root: Path) -> None:
        from tecktrack.lab.server import lab_command

        self.root = root
        self.notebooks = _copy_notebooks(root)
        self.port = _free_port()
        server = lab_command(self.notebooks, self.port)
        self.token = server.token
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO), "JUPYTER_CONFIG_DIR": str(root / "cfg"),
               "JUPYTER_RUNTIME_DIR": str(root / "runtime")}
        env.pop("TECKTRACK_WIDGETS", None)
        # no "get notified about Jupyter news?" toast over the page
        (root / "cfg" / "labconfig").mkdir(parents=True)
        (root / "cfg" / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        self.log = open(root / "jupyterlab.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([*server.argv, "--LabApp.expose_app_in_browser=True"],
                                     cwd=root, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        url = f"{self.base}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.root / "jupyterlab.log").read_text()
                raise RuntimeError(f"jupyter lab exited: {log}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        json.load(response)
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"JupyterLab did not answer within {START_TIMEOUT:.0f} s")

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"

    def stop(self) -> None:
        """Stop the server by its process id (its kernels with it), waiting a bounded time."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    pytest.importorskip("jupyterlab")
    pytest.importorskip("ipywidgets")
    _chromium()
    server = Lab(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def small() -> dict:
    """The parameters the notebook copies run with."""
    return SMALL
