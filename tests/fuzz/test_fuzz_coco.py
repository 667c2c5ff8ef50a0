"""Fuzzing the COCO readers and the evaluation behind them (#21): every input ends in a result
or a TeckTrackError (warnings about suspicious but loadable records are allowed)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tecktrack.datasets.coco import read_coco, read_coco_results
from tecktrack.errors import TeckTrackError
from tecktrack.metrics import evaluate
from tecktrack.metrics.loaders import load_coco

FUZZ = settings(max_examples=200,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_ODD = st.one_of(st.none(), st.booleans(), st.text(max_size=4), st.floats(allow_nan=True),
                 st.integers(-2**70, 2**70), st.lists(st.integers(0, 3), max_size=2),
                 st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
_ID = st.one_of(st.integers(-1, 6), _ODD)
_COORD = st.one_of(st.floats(-50, 700).map(lambda v: round(v, 2)), st.integers(-5, 700),
                   st.floats(allow_nan=True, allow_infinity=True))
_BBOX = st.one_of(st.lists(_COORD, min_size=4, max_size=4), st.lists(_COORD, max_size=6), _ODD)


def _record(fields: dict) -> st.SearchStrategy:
    """A dict with each field present (usually well-typed) or left out."""
    return st.fixed_dictionaries({}, optional=fields)


_IMAGE = _record({"id": _ID, "file_name": st.text(max_size=6),
                  "width": st.one_of(st.integers(1, 800), _ODD),
                  "height": st.one_of(st.integers(1, 800), _ODD)})
_ANN = _record({"id": _ID, "image_id": _ID, "category_id": _ID, "bbox": _BBOX,
                "area": st.one_of(st.floats(-10, 1e5), _ODD),
                "iscrowd": st.one_of(st.sampled_from([0, 1, 0, 0]), _ODD)})
_CAT = _record({"id": _ID, "name": st.one_of(st.text(max_size=5), _ODD)})
_GT = st.one_of(
    st.fixed_dictionaries({"images": st.lists(_IMAGE, max_size=4),
                           "annotations": st.lists(_ANN, max_size=6),
                           "categories": st.lists(_CAT, max_size=3)}),
    _ODD, st.lists(_IMAGE, max_size=2))
_RESULT = _record({"image_id": _ID, "category_id": _ID, "bbox": _BBOX,
                   "score": st.one_of(st.floats(0, 1), _ODD)})
_RESULTS = st.one_of(st.lists(_RESULT, max_size=6), _ODD)


@st.composite
def _plausible(draw: st.DrawFn) -> tuple[dict, list]:
    """A well-formed ground truth and results pair with two-decimal boxes, then up to two
    fields replaced by something odd or deleted (what careless exporters write)."""
    n_images = draw(st.integers(1, 3))
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480}
              for i in range(1, n_images + 1)]
    box = st.tuples(st.floats(0, 600), st.floats(0, 440), st.floats(0, 120),
                    st.floats(0, 120)).map(lambda b: [round(v, 2) for v in b])
    anns = [{"id": k + 1, "image_id": draw(st.integers(1, n_images)),
             "category_id": draw(st.sampled_from([1, 3])), "bbox": draw(box),
             "iscrowd": draw(st.sampled_from([0, 0, 0, 1]))}
            for k in range(draw(st.integers(0, 6)))]
    for a in anns:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    results = [{"image_id": draw(st.integers(1, n_images)),
                "category_id": draw(st.sampled_from([1, 3])), "bbox": draw(box),
                "score": draw(st.floats(0, 1))} for _ in range(draw(st.integers(0, 8)))]
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}]}
    for _ in range(draw(st.integers(0, 2))):
        records = draw(st.sampled_from([images, anns, results, gt["categories"]]))
        if records:
            record = records[draw(st.integers(0, len(records) - 1))]
            key = draw(st.sampled_from(sorted(record)))
            if draw(st.booleans()):
                del record[key]
            else:
                record[key] = draw(_ODD)
    return gt, results


def _dump(value: object) -> str:
    return json.dumps(value, allow_nan=True)


@FUZZ
@given(pair=st.one_of(st.tuples(_GT, _RESULTS), _plausible(), _plausible()))
def test_coco_files_end_in_a_result_or_a_tecktrack_error(pair: tuple) -> None:
    gt, results = pair
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt_path, res_path = Path(folder) / "gt.json", Path(folder) / "res.json"
        gt_path.write_text(_dump(gt))
        res_path.write_text(_dump(results))
        try:
            dataset = read_coco(gt_path)
        except TeckTrackError:
            event("ground truth refused")
            return
        for det in dataset.annotations.values():
            assert np.isfinite(det.xyxy).all()
        try:
            read_coco_results(res_path, dataset.category_ids)
            inputs = load_coco(gt_path, res_path)
        except TeckTrackError:
            event("results refused")
            return
        try:
            ev = evaluate(inputs.gt, inputs.preds, names=inputs.names, areas=inputs.areas,
                          iscrowd=inputs.iscrowd, exact=inputs.exact)
        except TeckTrackError:
            event("evaluation refused")
            return
    event("evaluated")
    assert all(-1.0 <= v <= 1.0 for v in ev.summary.values())


@FUZZ
@given(text=st.one_of(st.text(max_size=120), st.binary(max_size=120).map(
    lambda b: b.decode("latin-1"))))
def test_any_text_ends_in_a_dataset_or_a_tecktrack_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(folder) / "gt.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            read_coco(path)
        except TeckTrackError:
            pass
