"""MOT metrics (tecktrack.metrics.mot) against TrackEval (exact) and py-motmetrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mot_support import random_sequence, trackeval_data, trackeval_files

from tecktrack.cli import main
from tecktrack.datasets.mot import MotRows, read_mot, write_mot
from tecktrack.errors import FormatError
from tecktrack.metrics.mot import (
    HOTA_FIELDS,
    MOT_SUMMARY_KEYS,
    clear_metrics,
    evaluate_track_files,
    evaluate_tracks,
    hota_metrics,
    id_switches,
    identity_metrics,
    prepare_sequence,
)

trackeval = pytest.importorskip("trackeval")

CLEAR_KEYS = ("MOTA", "MOTP", "MODA", "sMOTA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR",
              "CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "Frag", "MT", "PT", "ML")
IDENTITY_KEYS = ("IDF1", "IDP", "IDR", "IDTP", "IDFN", "IDFP")
HOTA_KEYS = HOTA_FIELDS + ("HOTA_TP", "HOTA_FN", "HOTA_FP")


def _ours_and_theirs(gt: MotRows, tr: MotRows, frames: int):
    seq = prepare_sequence(gt, tr, frames)
    data = trackeval_data(gt, tr, frames)
    theirs = {**trackeval.metrics.HOTA().eval_sequence(data),
              **trackeval.metrics.CLEAR({"PRINT_CONFIG": False}).eval_sequence(data),
              **trackeval.metrics.Identity({"PRINT_CONFIG": False}).eval_sequence(data)}
    ours = {**hota_metrics(seq), **clear_metrics(seq), **identity_metrics(seq)}
    return ours, theirs


def _assert_equal(ours: dict, theirs: dict, keys) -> None:
    for key in keys:
        np.testing.assert_allclose(np.asarray(ours[key], float), np.asarray(theirs[key], float),
                                   rtol=0, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("seed", range(12))
def test_random_sequences_equal_trackeval(seed):
    gt, tr = random_sequence(seed, frames=25 + seed, objects=3 + seed % 6)
    ours, theirs = _ours_and_theirs(gt, tr, gt.num_frames + 2)
    assert theirs["IDSW"] + theirs["Frag"] > 0 or seed % 6 < 2   # the cases exercise switches
    _assert_equal(ours, theirs, CLEAR_KEYS + IDENTITY_KEYS + HOTA_KEYS)


@pytest.mark.parametrize("case", ["no_tracks", "no_gt", "both_empty", "one_frame", "disjoint"])
def test_edge_sequences_equal_trackeval(case):
    gt, tr = random_sequence(3, frames=10, objects=3)
    if case == "no_tracks":
        tr = MotRows.empty()
    elif case == "no_gt":
        gt = MotRows.empty()
    elif case == "both_empty":
        gt, tr = MotRows.empty(), MotRows.empty()
    elif case == "one_frame":
        gt, tr = gt[gt.frames == gt.frames[0]], tr[tr.frames == gt.frames[0]]
    else:   # both have boxes, never in the same frame
        gt, tr = gt[gt.frames % 2 == 0], tr[tr.frames % 2 == 1]
    ours, theirs = _ours_and_theirs(gt, tr, 10)
    _assert_equal(ours, theirs, CLEAR_KEYS + IDENTITY_KEYS + HOTA_KEYS)


@pytest.mark.parametrize("seed", [0, 7])
def test_files_equal_trackeval_end_to_end(tmp_path, seed):
    gt, tr = random_sequence(seed, frames=30, objects=5)
    frames = max(gt.num_frames, tr.num_frames)
    theirs = trackeval_files(tmp_path, gt, tr, frames)
    write_mot(tmp_path / "gt.txt", gt, tracker=False)
    write_mot(tmp_path / "tr.txt", tr)
    summary = evaluate_track_files(tmp_path / "gt.txt", tmp_path / "tr.txt")
    for key in ("HOTA", "DetA", "AssA", "LocA"):
        assert abs(summary[key] - float(np.mean(theirs[key]))) <= 1e-9, key
    for key in ("MOTA", "MOTP", "IDF1", "IDP", "IDR", "IDSW", "Frag"):
        assert abs(summary[key] - float(theirs[key])) <= 1e-9, key


def _motmetrics_summary(gt: MotRows, tr: MotRows, frames: int) -> dict:
    mm = pytest.importorskip("motmetrics")
    from tecktrack.detections import box_iou

    acc = mm.MOTAccumulator(auto_id=False)
    gt = gt[np.trunc(gt.conf) != 0]  # the consider flag as TrackEval reads it (an int)
    for f in range(1, frames + 1):
        g, t = gt[gt.frames == f], tr[tr.frames == f]
        dist = 1.0 - box_iou(g.xyxy, t.xyxy)
        dist[dist > 0.5] = np.nan
        acc.update(g.ids.tolist(), t.ids.tolist(), dist, frameid=f)
    mh = mm.metrics.create()
    df = mh.compute(acc, metrics=["mota", "motp", "idf1", "idp", "idr", "num_switches"],
                    name="s")
    return df.iloc[0].to_dict()


@pytest.mark.parametrize("seed", [1, 4, 9])
def test_clear_and_identity_agree_with_motmetrics(seed):
    gt, tr = random_sequence(seed, frames=30, objects=6)
    frames = max(gt.num_frames, tr.num_frames)
    ours = evaluate_tracks(gt, tr)
    theirs = _motmetrics_summary(gt, tr, frames)
    assert ours["IDSW"] == theirs["num_switches"]
    for ours_key, key in [("MOTA", "mota"), ("IDF1", "idf1"), ("IDP", "idp"), ("IDR", "idr")]:
        assert ours[ours_key] == pytest.approx(theirs[key], abs=1e-9), key
    assert ours["MOTP"] == pytest.approx(1.0 - theirs["motp"], abs=1e-9)   # distance there


def test_summary_keys_and_switch_events():
    gt = MotRows.from_arrays([1, 2, 3, 4], [1] * 4, [[0, 0, 10, 10]] * 4)
    tr = MotRows.from_arrays([1, 2, 3, 4], [7, 7, 8, 8], [[0, 0, 10, 10]] * 4)
    summary = evaluate_tracks(gt, tr)
    assert list(summary)[:len(MOT_SUMMARY_KEYS)] == list(MOT_SUMMARY_KEYS)
    assert summary["IDSW"] == 1 and summary["MOTA"] == 0.75
    assert summary["IDF1"] == 0.5 and summary["DetA"] == 1.0
    assert id_switches(gt, tr).values.tolist() == [[3, 1, 7, 8]]


def test_read_mot_errors_name_file_and_line(tmp_path):
    cases = {
        "1,1,0,0,10\n": "expected 6 to 10 columns",
        "1,1,0,0,10,10\n0,1,0,0,10,10\n": "frame numbers start at 1",
        "1,1,0,0,10,10\n2,1.5,0,0,10,10\n": "must be a whole number",
        "1,1,0,0,abc,10\n": "not a number",
        "1,1,0,0,nan,10\n": "not finite",
        "1,1,0,0,-3,10\n": "width and height must be >= 0",
        "1,2,0,0,3,3\n1,2,1,1,3,3\n": "appears twice in frame 1",
        "1,1,0,0,\u0663,10\n": "not a number",          # Arabic-Indic 3: float() takes it
        "1,1,0,0,1_0,10\n": "not a number",              # so does 1_0
        "1,1,0,0,10,10\u2028\n": "not a number",         # a Unicode separator ends no line
        # an empty field: merging the separators shifted the later columns left
        "1,1,10,,20,30,1,-1,-1,-1\n": "column 'y' is empty",
        "1,1,10,20,,40,1,1,1\n": "column 'w' is empty",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.txt"
        path.write_text(text)
        with pytest.raises(FormatError, match=message) as info:
            read_mot(path)
        assert str(path) in str(info.value)
        assert f":{text.count(chr(10))}:" in str(info.value)   # the last line is the bad one
    with pytest.raises(FormatError, match="no such MOT file"):
        read_mot(tmp_path / "missing.txt")


def test_read_mot_accepts_spaces_blank_lines_and_decimals(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\n2 5 10.25 20.5 30.75 40 0.9 -1 -1 -1\n\n1,5,1.00,2.00,3.00,4.00\n")
    rows = read_mot(path)
    assert rows.frames.tolist() == [1, 2]
    assert rows.xyxy[1].tolist() == [10.25, 20.5, 41.0, 60.5]
    assert rows.conf.tolist() == [1.0, 0.9]
    assert len(read_mot(_empty(tmp_path))) == 0


def _empty(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("")
    return path


def test_evaluate_tracks_cli_prints_and_writes_json(tmp_path, capsys):
    gt, tr = random_sequence(5, frames=20, objects=4)
    write_mot(tmp_path / "gt.txt", gt, tracker=False)
    write_mot(tmp_path / "tracks.txt", tr)
    out = tmp_path / "m.json"
    assert main(["evaluate-tracks", "--gt", str(tmp_path / "gt.txt"), "--pred",
                 str(tmp_path / "tracks.txt"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    expected = evaluate_track_files(tmp_path / "gt.txt", tmp_path / "tracks.txt")
    for key in MOT_SUMMARY_KEYS:
        assert data[key] == pytest.approx(expected[key], abs=1e-12)
        assert key in printed
    assert isinstance(data["IDSW"], int) and 0 <= data["HOTA"] <= 1


def test_evaluate_tracks_cli_bad_file_is_one_line_error(tmp_path, capsys):
    (tmp_path / "gt.txt").write_text("1,1,0,0,10,10,1,1,1\n")
    (tmp_path / "t.txt").write_text("1,1,0,0,10\n")
    assert main(["evaluate-tracks", "--gt", str(tmp_path / "gt.txt"), "--pred",
                 str(tmp_path / "t.txt")]) == 2
    assert "t.txt:1: expected 6 to 10 columns" in capsys.readouterr().err


def test_a_fractional_consider_flag_is_read_as_trackeval_reads_it(tmp_path):
    """TrackEval reads the ground truth's 'consider' column as an int: 0.5 and -0.5 are 0,
    rows left out (tecktrack kept every row not exactly 0: MOTA 1.0 against 0.0 here)."""
    flags = ["1", "1", "0.5", "-0.5", "1.5"]
    text = "".join(f"{f},1,0.00,0.00,10.00,10.00,{c},1,1.0\n"
                   for f, c in enumerate(flags, start=1))
    tr = MotRows.from_arrays(list(range(1, 6)), [7] * 5, [[0, 0, 10, 10]] * 5)
    theirs = trackeval_files(tmp_path / "te", text, tr, 5)
    (tmp_path / "gt.txt").write_text(text)
    write_mot(tmp_path / "tr.txt", tr)
    summary = evaluate_track_files(tmp_path / "gt.txt", tmp_path / "tr.txt")
    for key in ("MOTA", "IDF1", "CLR_TP", "CLR_FP"):
        assert summary[key] == pytest.approx(float(theirs[key]), abs=1e-9), key
    assert summary["CLR_TP"] == 3 and summary["CLR_FP"] == 2
