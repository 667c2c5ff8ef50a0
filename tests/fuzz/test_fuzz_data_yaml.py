"""Fuzzing the data.yaml reader (#21): every input ends in a DataConfig or a TeckTrackError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tecktrack.datasets.data_yaml import read_data_yaml
from tecktrack.errors import TeckTrackError

FUZZ = settings(max_examples=200,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

def _inside(text: str) -> bool:
    """Paths that stay in the temporary dataset (``/`` or ``..`` would walk the disk)."""
    return not text.startswith(("/", "\\")) and ".." not in text


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                    st.text(max_size=12).filter(_inside),
                    st.sampled_from(["images", "images/train", "missing", ".", "list.txt",
                                     "broken.txt", "a.jpg", "images\x00x", "*",
                                     "images/train/a.jpg"]))
_VALUE = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.integers(-2, 4), st.text(
        max_size=5)), inner, max_size=4)), max_leaves=10)
_KEYS = st.sampled_from(["path", "train", "val", "test", "names", "nc", "download"])
_NAMES = st.one_of(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4),
                   st.integers(1, 4).map(lambda n: {i: f"c{i}" for i in range(n)}))
_PLAUSIBLE = st.fixed_dictionaries(
    {"train": st.sampled_from(["images/train", "images", "list.txt", "images/train/a.jpg"]),
     "val": st.sampled_from(["images/train", ["images", "images/train"], "list.txt"]),
     "names": _NAMES},
    optional={"path": st.sampled_from([".", "", None]), "nc": st.integers(0, 5),
              "test": _VALUE})
_DOC = st.one_of(st.dictionaries(_KEYS, _VALUE, max_size=6), _PLAUSIBLE,
                 st.tuples(_PLAUSIBLE, _KEYS, _VALUE).map(lambda t: {**t[0], t[1]: t[2]}))


def _layout(root: Path) -> None:
    """A small real dataset the fuzzed yaml may point into."""
    (root / "images" / "train").mkdir(parents=True)
    (root / "images" / "train" / "a.jpg").write_bytes(b"\xff\xd8not really")
    (root / "list.txt").write_text("images/train/a.jpg\n")
    (root / "broken.txt").write_text("images/train/a.jpg\nnope.jpg\n")


def _read(root: Path, data: bytes):
    path = root / "data.yaml"
    path.write_bytes(data)
    try:
        return read_data_yaml(path)
    except TeckTrackError:
        return None


@FUZZ
@given(doc=_DOC)
def test_structured_yaml_ends_in_a_config_or_a_tecktrack_error(doc: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _layout(root)
        cfg = _read(root, yaml.safe_dump(doc, allow_unicode=True).encode("utf-8"))
    event("refused" if cfg is None else "read")
    if cfg is not None:
        assert cfg.names and all(isinstance(n, str) for n in cfg.names)
        assert {"train", "val"} <= set(cfg.splits)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(
    lambda t: t.encode("utf-8", errors="surrogatepass"))))
def test_any_bytes_end_in_a_config_or_a_tecktrack_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _layout(root)
        _read(root, data)
