"""COCO JSON through msgspec (#20): the typed fast path reads every file exactly as the
``json`` module's reading does (values, errors, warnings), and pycocotools agrees."""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tecktrack.datasets import coco_json
from tecktrack.datasets.coco import read_coco, read_coco_results_exact
from tecktrack.errors import FormatError, TeckTrackError

_ODD = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.floats(allow_nan=True),
                 st.integers(-2**70, 2**70), st.lists(st.integers(0, 3), max_size=2),
                 st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
_ID = st.one_of(st.integers(1, 4), st.integers(1, 4), _ODD)
_NUMBER = st.one_of(st.floats(0, 700).map(lambda v: round(v, 2)), st.integers(0, 700))
_BBOX = st.one_of(st.lists(_NUMBER, min_size=4, max_size=4),
                  st.lists(_NUMBER, min_size=4, max_size=4), st.lists(_NUMBER, max_size=5), _ODD)
_EXTRA = {"segmentation": st.one_of(st.lists(st.lists(_NUMBER, max_size=6), max_size=2), _ODD),
          "attributes": _ODD}


def _record(fields: dict, required: tuple[str, ...]) -> st.SearchStrategy:
    """Records that usually have the ``required`` fields, sometimes odd or without them."""
    usual = st.fixed_dictionaries({k: v for k, v in fields.items() if k in required},
                                  optional={k: v for k, v in fields.items()
                                            if k not in required})
    return st.one_of(usual, usual, usual, st.fixed_dictionaries({}, optional=fields), _ODD)


_IMAGE = _record({"id": _ID, "file_name": st.one_of(st.text(max_size=4), _ODD),
                  "width": st.one_of(st.just(640), _ODD), "height": st.one_of(st.just(480), _ODD),
                  "license": _ODD}, ("id", "file_name", "width", "height"))
_ANNOTATION = _record({"id": _ID, "image_id": _ID, "category_id": _ID, "bbox": _BBOX,
                       "area": st.one_of(_NUMBER, _ODD),
                       "iscrowd": st.one_of(st.sampled_from([0, 1, 0]), _ODD), **_EXTRA},
                      ("image_id", "category_id", "bbox", "area"))
_CATEGORY = _record({"id": _ID, "name": st.one_of(st.text(max_size=4), _ODD),
                     "supercategory": _ODD}, ("id", "name"))
_GROUND_TRUTH = st.one_of(
    st.fixed_dictionaries(
        {"images": st.lists(_IMAGE, max_size=4), "annotations": st.lists(_ANNOTATION, max_size=6),
         "categories": st.lists(_CATEGORY, max_size=3)},
        optional={"info": _ODD, "licenses": st.lists(_ODD, max_size=2)}),
    _ODD)
_RESULTS = st.one_of(st.lists(_record({"image_id": _ID, "category_id": _ID, "bbox": _BBOX,
                                       "score": st.one_of(st.floats(0, 1), _ODD)},
                                      ("image_id", "category_id", "bbox", "score")),
                              max_size=6), _ODD)


def _outcome(read) -> tuple:
    """What a read gives: its values (as bytes), or its error; and its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = read()
        except TeckTrackError as exc:
            value = ("error", type(exc).__name__, str(exc), exc.line)
    if hasattr(value, "annotations"):
        value = (value.images, value.names, value.category_ids, list(value.annotations),
                 [(d.xyxy.tobytes(), d.class_ids.tolist()) for d in value.annotations.values()],
                 [(a.tobytes(), b.tobytes(), c.tobytes()) for a, b, c in zip(
                     value.iscrowd.values(), value.areas.values(), value.boxes.values(),
                     strict=True)])
    elif hasattr(value, "detections"):
        value = ([(k, d.xyxy.tobytes(), d.class_ids.tolist(), d.scores.tobytes())
                  for k, d in value.detections.items()],
                 [b.tobytes() for b in value.boxes.values()],
                 [s.tobytes() for s in value.scores.values()])
    return value, [str(w.message) for w in caught]


def _both_ways(monkeypatch, read) -> tuple[tuple, tuple]:
    fast = _outcome(read)
    with monkeypatch.context() as patch:   # every file through json.loads, as before #20
        patch.setattr(coco_json, "_is_utf8", lambda data: False)
        reference = _outcome(read)
    return fast, reference


@settings(max_examples=250,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(gt=_GROUND_TRUTH, results=_RESULTS)
def test_the_fast_path_reads_every_file_as_json_loads_does(tmp_path: Path, monkeypatch, gt,
                                                           results) -> None:
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    gt_path.write_text(json.dumps(gt, allow_nan=True))
    res_path.write_text(json.dumps(results, allow_nan=True))
    fast, reference = _both_ways(monkeypatch, lambda: read_coco(gt_path))
    assert fast == reference
    for image_ids in (None, [1, 2, 3, 4]):
        fast, reference = _both_ways(
            monkeypatch, lambda ids=image_ids: read_coco_results_exact(res_path, [1, 2, 3], ids))
        assert fast == reference


_GOOD = {"images": [{"id": 1, "file_name": "a.jpg", "width": 640, "height": 480}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1.5, 2, 30.25, 40],
                          "area": 1210.0, "iscrowd": 0}],
         "categories": [{"id": 1, "name": "cat"}]}


def _with_segmentation(tmp_path: Path, segmentation: bytes) -> Path:
    text = json.dumps({**_GOOD, "annotations": [{**_GOOD["annotations"][0],
                                                 "segmentation": "SEG"}]})
    path = tmp_path / "gt.json"
    path.write_bytes(text.encode().replace(b'"SEG"', segmentation))
    return path


def test_bytes_that_are_not_utf8_in_a_skipped_field_are_still_refused(tmp_path: Path):
    path = _with_segmentation(tmp_path, b'"\xff\xfe"')
    with pytest.raises(FormatError, match="not UTF-8 JSON text"):
        read_coco(path)


def test_nan_in_a_skipped_field_reads_as_json_reads_it(tmp_path: Path):
    ds = read_coco(_with_segmentation(tmp_path, b"[[NaN, 1, 2, 3]]"))
    assert ds.boxes[1].tolist() == [[1.5, 2.0, 30.25, 40.0]]


def test_an_integer_beyond_64_bits_is_not_a_box_coordinate(tmp_path: Path):
    path = tmp_path / "gt.json"
    ann = {**_GOOD["annotations"][0], "bbox": [2**70, 0, 1, 1]}
    path.write_text(json.dumps({**_GOOD, "annotations": [ann]}))
    with pytest.raises(FormatError, match=r"annotations\[0\]\.bbox: expected \[x, y, w, h\]"):
        read_coco(path)


def test_a_repeated_key_keeps_its_last_value_as_json_does(tmp_path: Path):
    path = tmp_path / "gt.json"
    text = json.dumps(_GOOD).replace('"area": 1210.0', '"area": 5.0, "area": 1210.0')
    path.write_text(text)
    assert read_coco(path).areas[1].tolist() == [1210.0]


def test_escaped_keys_are_the_keys_they_spell(tmp_path: Path):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(_GOOD).replace('"bbox"', '"b\\u0062ox"')
                    .replace('"categories"', '"\\u0063ategories"'))
    assert read_coco(path).boxes[1].tolist() == [[1.5, 2.0, 30.25, 40.0]]


def test_boxes_areas_and_classes_are_what_pycocotools_loads(tmp_path: Path):
    """A file as annotation tools write it (two-decimal boxes, polygons, unsorted category
    ids, info and licenses, non-ASCII names, a crowd box): every number equals pycocotools'."""
    from pycocotools.coco import COCO

    rng = np.random.default_rng(7)
    images = [{"id": int(i), "file_name": f"bild_{i}_ü.jpg", "width": 640, "height": 480,
               "license": 1} for i in rng.permutation(np.arange(3, 40))[:25]]
    categories = [{"id": c, "name": f"klasse-{c}", "supercategory": "ö"} for c in (17, 3, 90, 5)]
    annotations = []
    for k in range(300):
        xy = np.round(rng.uniform(0, 400, 2), 2)
        wh = np.round(rng.uniform(0.5, 120, 2), 2)
        annotations.append({
            "id": k + 1, "image_id": images[int(rng.integers(0, 20))]["id"],
            "category_id": categories[int(rng.integers(0, 4))]["id"],
            "bbox": [*xy.tolist(), *wh.tolist()], "area": round(float(wh.prod()) * 0.8, 3),
            "iscrowd": int(k % 37 == 0),
            "segmentation": [np.round(rng.uniform(0, 400, 8), 2).tolist()]})
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"info": {"year": 2026}, "licenses": [{"id": 1}],
                                "images": images, "annotations": annotations,
                                "categories": categories}, ensure_ascii=False), encoding="utf-8")
    ds = read_coco(path)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    assert ds.category_ids == [3, 5, 17, 90]
    assert ds.names == [f"klasse-{c}" for c in ds.category_ids]
    assert [im.file_name for im in ds.images] == [im["file_name"] for im in images]
    for im in images:
        anns = coco.imgToAnns[im["id"]]
        assert ds.boxes[im["id"]].tolist() == [a["bbox"] for a in anns]     # exact float64
        assert ds.areas[im["id"]].tolist() == [a["area"] for a in anns]
        assert ds.iscrowd[im["id"]].tolist() == [bool(a["iscrowd"]) for a in anns]
        assert [ds.category_ids[c] for c in ds.annotations[im["id"]].class_ids] == \
            [a["category_id"] for a in anns]
        corners = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)]
        np.testing.assert_allclose(ds.annotations[im["id"]].xyxy,
                                   np.reshape(corners, (-1, 4)), rtol=1e-6)
    assert sum(len(d) for d in ds.annotations.values()) == len(coco.anns)


def test_read_coco_builds_the_dataset_the_constructor_would(tmp_path: Path):
    """read_coco skips CocoDataset's second pass over the images: same keys, order, dtypes,
    shapes and values as the constructor gives from the images that have boxes."""
    from tecktrack.datasets.coco import CocoDataset

    images = [{"id": i, "file_name": f"{i}.jpg", "width": 64, "height": 48} for i in (5, 2, 9, 7)]
    annotations = [{"id": k + 1, "image_id": i, "category_id": 1, "bbox": [k, 1.25, 3, 4.5],
                    "area": 13.5, "iscrowd": int(k == 2)} for k, i in enumerate((9, 2, 9, 9))]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "a"}]}))
    ds = read_coco(path)
    with_boxes = [i for i, d in ds.annotations.items() if len(d)]
    ref = CocoDataset(ds.images, ds.names, ds.category_ids,
                      *({i: table[i] for i in with_boxes}
                        for table in (ds.annotations, ds.iscrowd, ds.areas, ds.boxes)))
    assert list(ds.annotations) == list(ref.annotations) == [2, 9, 5, 7]
    for name in ("iscrowd", "areas", "boxes"):
        ours, theirs = getattr(ds, name), getattr(ref, name)
        assert list(ours) == list(theirs)
        for i in ours:
            assert ours[i].dtype == theirs[i].dtype and ours[i].shape == theirs[i].shape
            np.testing.assert_array_equal(ours[i], theirs[i])
    for i, det in ds.annotations.items():
        assert det.xyxy.shape == ref.annotations[i].xyxy.shape and det.scores is None
        np.testing.assert_array_equal(det.xyxy, ref.annotations[i].xyxy)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_score_or_area_that_is_not_finite_is_refused_where_it_is_written(tmp_path: Path,
                                                                          value: str):
    """Python's json writes and reads NaN and Infinity; a score or area of that kind is named
    with its file and record (it surfaced in the evaluation as "prediction 1 of image 2 has a
    non-finite score", and a NaN area was taken in without a word)."""
    res = tmp_path / "res.json"
    rows = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.5}] * 3
    res.write_text(json.dumps(rows).replace('"score": 0.5}]', f'"score": {value}}}]'))
    with pytest.raises(FormatError, match=rf"res\.json: results\[2\]\.score: expected a "
                                          rf"finite number, got {re.escape(repr(float(value)))}"):
        read_coco_results_exact(res, [1])
    gt = tmp_path / "gt.json"
    anns = [{**_GOOD["annotations"][0], "area": 12.5}, {**_GOOD["annotations"][0], "id": 2}]
    gt.write_text(json.dumps({**_GOOD, "annotations": anns}).replace(
        '"area": 12.5', f'"area": {value}'))
    with pytest.raises(FormatError, match=r"gt\.json: annotations\[0\]\.area: expected a "
                                          r"finite number"):
        read_coco(gt)
