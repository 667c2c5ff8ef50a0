"""The goals table of ``make bench`` (benchmarks/goals.py, benchmarks/conftest.py)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def goals(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    module = importlib.import_module("goals")
    monkeypatch.setattr(module, "_RUN", module._Run())
    yield module
    sys.modules.pop("bench_conftest", None)


def _summary(goals) -> list[str]:
    spec = importlib.util.spec_from_file_location("bench_conftest", BENCH / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    conftest.measured, conftest.annotations = goals.measured, goals.annotations
    return conftest.summary_lines()


def test_a_goal_is_met_only_on_its_side_of_the_threshold(goals):
    at_most = goals.Goal("x", "<=", 1.10)
    assert at_most.met(1.10) and not at_most.met(1.1001)
    faster = goals.Goal("x", "<", 1.0)
    assert faster.met(0.99) and not faster.met(1.0)
    assert goals.Goal("x", ">=", 0.9).met(0.9) and not goals.Goal("x", ">=", 0.9).met(0.89)


def test_a_pair_becomes_ours_over_peer_once_both_sides_are_in(goals):
    goals.pair("nms_100", "ours", 40e-6)
    assert "nms_100" not in goals.measured()
    goals.pair("nms_100", "peer", 50e-6)
    value, detail = goals.measured()["nms_100"]
    assert value == pytest.approx(0.8) and detail == "40 us vs 50 us (best of each)"


def test_unknown_goals_and_roles_are_refused(goals):
    with pytest.raises(KeyError, match="no goal named 'nms_7'"):
        goals.record("nms_7", 1.0)
    with pytest.raises(KeyError, match="role"):
        goals.pair("nms_10", "theirs", 1.0)


def test_the_summary_lists_every_goal_with_its_verdict(goals):
    goals.record("predict_onnx", 1.25, "3.1 ms vs 2.5 ms")
    goals.record("stream_udp_demo-n", 0.93)
    lines = _summary(goals)
    assert len(lines) == len(goals.GOALS) + 2  # header, one line per goal, load
    by_key = {line.split()[0]: line for line in lines[1:-1]}
    assert set(by_key) == set(goals.GOALS)
    assert "NOT MET" in by_key["predict_onnx"] and "3.1 ms vs 2.5 ms" in by_key["predict_onnx"]
    assert " met " in by_key["stream_udp_demo-n"] and "1.250x" in by_key["predict_onnx"]
    assert "not run" in by_key["nms_10"]
    assert lines[-1].startswith("load average at the end:")


def test_a_note_stands_beside_its_goal_measured_or_not(goals):
    goals.record("predict_batch_onnx", 1.09, "21.4 ms vs 19.6 ms")
    goals.annotate("predict_batch_onnx", "memory floor 1.043x")
    goals.annotate("nms_10", "reference only")
    by_key = {line.split()[0]: line for line in _summary(goals)[1:-1]}
    assert by_key["predict_batch_onnx"].endswith("21.4 ms vs 19.6 ms [memory floor 1.043x]")
    assert "not run" in by_key["nms_10"] and by_key["nms_10"].endswith("[reference only]")
    with pytest.raises(KeyError, match="no goal named 'floor'"):
        goals.annotate("floor", "x")
