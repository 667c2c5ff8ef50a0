"""Scale out on Dask (#16): every batch step gives the outputs of one machine, byte for byte.

Most tests share one in-process ``LocalCluster(processes=False)`` (two workers, one thread
each); the kill test starts a real two-process cluster and SIGKILLs one worker from inside
a shard (a worker plugin, no sleeps) to check nothing is lost or doubled.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from tecktrack.augment.dataset import augment_dataset  # noqa: E402
from tecktrack.cluster import (  # noqa: E402
    MANIFEST,
    PARTIAL,
    cluster_session,
    commit,
    discard,
    new_stage,
    parse_address,
    shard,
    start_run,
    worker_cache,
)
from tecktrack.cluster.cache import clear_cache  # noqa: E402
from tecktrack.detections import Detections  # noqa: E402
from tecktrack.errors import ClusterError, FormatError  # noqa: E402
from tecktrack.inference.batch import predict_images, source_images  # noqa: E402
from tecktrack.metrics import confusion_matrix, evaluate, precision_recall  # noqa: E402
from tecktrack.metrics.loaders import load_inputs  # noqa: E402
from tecktrack.metrics.report import evaluation_report  # noqa: E402
from tecktrack.metrics.sharded import evaluate_sharded  # noqa: E402
from tecktrack.mining.pipeline import mine  # noqa: E402
from tecktrack.model import load_model  # noqa: E402
from tecktrack.synth import generate_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "demo-n"


def _tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in skip}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A small synthetic dataset with some label noise (its data.yaml)."""
    root = tmp_path_factory.mktemp("world")
    return generate_dataset(root / "ds", n_images=24, size=192, label_noise=0.2, seed=3,
                            quiet=True, workers=1)


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _in_process_local_clusters(monkeypatch) -> None:
    """``--cluster local:N`` starts an in-process LocalCluster (threads, not processes)."""
    monkeypatch.setattr(
        "tecktrack.cluster.session._local_cluster",
        lambda address: distributed.LocalCluster(n_workers=address.workers,
                                                 threads_per_worker=1, processes=False,
                                                 dashboard_address=":0"))


@pytest.fixture(scope="module")
def local_run(world, model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pred") / "local"
    images, root = source_images(world.parent / "images")
    predict_images(model, images, root, out, save_images=True, quiet=True)
    return out


# -- addresses, shards, cache ----------------------------------------------------------------
def test_addresses_parse_and_bad_ones_name_what_is_accepted():
    assert parse_address("local").kind == "local"
    assert parse_address("LOCAL:3").workers == 3
    assert parse_address("tcp://10.1.2.3:8786").address == "tcp://10.1.2.3:8786"
    assert parse_address("scheduler.lan:8786").kind == "scheduler"
    for bad in ("local:0", "local:x", "laptop", ""):
        with pytest.raises(ClusterError, match="local"):
            parse_address(bad)
    assert shard(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ClusterError, match="shard-size"):
        shard([1], 0)


def test_staging_commits_whole_shards_and_a_stopped_run_stages_nothing(tmp_path):
    run = start_run(tmp_path)
    first, retry = new_stage(tmp_path, 0, run), new_stage(tmp_path, 0, run)
    for stage, text in ((first, "dead attempt"), (retry, "retried")):
        (stage / "labels").mkdir()
        (stage / "labels" / "a.txt").write_text(text)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("half-committed earlier")
    commit(retry, tmp_path, ["labels/a.txt"])
    discard(tmp_path)
    assert (tmp_path / "labels" / "a.txt").read_text() == "retried"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels"]
    with pytest.raises(ClusterError, match="stopped"):
        new_stage(tmp_path, 1, run)


def test_worker_cache_builds_once_per_key_or_once_per_thread():
    import threading

    clear_cache()
    built = []
    for _ in range(3):
        worker_cache(("k", 1), lambda: built.append(1) or object())
    worker_cache(("k", 2), lambda: built.append(2) or object())
    assert built == [1, 2]
    mine = [worker_cache("net", object, per_thread=True) for _ in range(2)]
    other: list = []
    t = threading.Thread(target=lambda: other.append(worker_cache("net", object,
                                                                  per_thread=True)))
    t.start()
    t.join()
    assert mine[0] is mine[1] and other[0] is not mine[0]


def _commands(world: Path, out: Path) -> list[list[str]]:
    """One run of every command that takes --cluster, writing under ``out``."""
    val, data = str(world.parent / "images" / "val"), str(world)
    return [
        ["predict", "--quiet", "--model", str(MODEL), "--source", val, "--out",
         str(out / "p")],
        ["evaluate", "--quiet", "--gt", data, "--pred", str(out / "p" / "labels"), "--json",
         str(out / "e.json")],
        ["mine", "--quiet", "--pred", str(out / "p"), "--gt", data, "--model", str(MODEL),
         "--json", str(out / "m.json")],
        ["augment", data, "--images", val, "--ops", "flip,rotate", "--out", str(out / "a"),
         "--quiet"],
        ["synth", "dataset", str(out / "s"), "--images", "6", "--size", "96", "--quiet"],
    ]


def test_without_cluster_dask_is_never_imported(world, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TECKTRACK_CLUSTER": ""}
    code = ("import sys; from tecktrack.cli import main; "
            f"status = [main(argv) for argv in {_commands(world, tmp_path)!r}]; "
            "print(status, 'dask' in sys.modules, 'distributed' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    assert done.stdout.splitlines()[-1] == "[0, 0, 0, 0, 0] False False"


@pytest.mark.timeout(180)
def test_every_command_takes_cluster_and_writes_what_a_local_run_writes(world, tmp_path,
                                                                        monkeypatch, capsys):
    from tecktrack.cli import main

    monkeypatch.setenv("TECKTRACK_CLUSTER", "none")
    for argv in _commands(world, tmp_path / "local"):
        assert main(argv) == 0
    _in_process_local_clusters(monkeypatch)
    capsys.readouterr()
    for argv in _commands(world, tmp_path / "cl"):
        assert main([*argv, "--cluster", "local:2", "--shard-size", "2"]) == 0
    err = capsys.readouterr().err
    assert err.count("dashboard") == 5 and err.count("retried, on 2 workers") == 5
    local, remote = tmp_path / "local", tmp_path / "cl"
    for name in ("e.json", "m.json"):
        assert (remote / name).read_bytes() == (local / name).read_bytes()
    assert _tree(remote / "p" / "labels") == _tree(local / "p" / "labels")
    assert _tree(remote / "s") == _tree(local / "s")
    assert _tree(remote / "a" / "images") == _tree(local / "a" / "images")
    csv = (remote / "a" / "augmentations.csv").read_text()
    assert csv.replace(str(remote), str(local)) == (local / "a" / "augmentations.csv").read_text()


# -- the same outputs as one machine ----------------------------------------------------------
@pytest.mark.timeout(120)
def test_predict_writes_the_same_files_and_a_manifest_listing_each_once(world, model, client,
                                                                        local_run, tmp_path):
    images, root = source_images(world.parent / "images")
    out = tmp_path / "cl"
    summary = predict_images(model, images, root, out, save_images=True, quiet=True,
                             cluster=client, shard_size=5)
    local, remote = _tree(local_run, ("summary.json",)), _tree(out, ("summary.json", MANIFEST))
    assert remote == local and len(local) == 2 * len(images)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["outputs"] == sorted(local) and manifest["shards"] == 5
    assert manifest["workers"] == 2 and manifest["retried"] == 0
    expected = json.loads((local_run / "summary.json").read_text())
    for s in (summary, expected):  # how long it took and how it was timed: not the results
        for key in ("mean_ms_per_image", "wall_ms_per_image", "overlap"):
            s.pop(key)
    assert summary == expected
    assert not (out / PARTIAL).exists()


@pytest.mark.timeout(120)
def test_workers_load_the_detector_with_every_nms_option(world, client, tmp_path):
    """#22's NMS options (agnostic, classes, max_det) travel with the model to the workers."""
    from tecktrack.model.spec import ModelSpec

    tuned = load_model(MODEL, conf=0.05, iou=0.6, max_det=3, agnostic=True, classes=[0, 2])
    spec = ModelSpec.of(tuned)
    assert (spec.agnostic, spec.classes, spec.max_det, spec.half) == (True, (0, 2), 3, False)
    again = spec.load()
    assert (again.agnostic, again.classes, again.max_det, again.iou) == (True, (0, 2), 3, 0.6)
    images, root = source_images(world.parent / "images")
    local, remote = tmp_path / "local", tmp_path / "cl"
    predict_images(tuned, images, root, local, quiet=True)
    predict_images(tuned, images, root, remote, quiet=True, cluster=client, shard_size=7)
    labels = _tree(local / "labels")
    assert _tree(remote / "labels") == labels
    rows = [line.split() for text in labels.values() for line in text.decode().splitlines()]
    assert rows and {r[0] for r in rows} <= {"0", "2"}
    assert max(len(t.decode().splitlines()) for t in labels.values()) <= 3
    plain = tmp_path / "plain"
    predict_images(load_model(MODEL, conf=0.05, iou=0.6), images, root, plain, quiet=True)
    assert _tree(plain / "labels") != labels          # the options change the output


@pytest.mark.timeout(120)
def test_the_notebooks_predicted_split_is_the_same_on_a_cluster(world, model, client):
    from tecktrack.lab import predict_split

    local = predict_split(model, world, "val")
    remote = predict_split(model, world, "val", cluster=client, shard_size=2)
    assert remote.stems == local.stems and remote.sizes == local.sizes
    for stem in local.stems:
        for field in ("xyxy", "class_ids", "scores"):
            np.testing.assert_array_equal(getattr(remote.preds[stem], field),
                                          getattr(local.preds[stem], field))
    assert sum(len(d) for d in local.preds.values()) > 0


@pytest.mark.timeout(120)
def test_evaluate_reduces_to_the_same_report(world, local_run, client):
    inputs = load_inputs(world, local_run / "labels" / "val")
    common = {"names": inputs.names, "iscrowd": inputs.iscrowd}
    ev = evaluate(inputs.gt, inputs.preds, areas=inputs.areas, **common)
    pr = precision_recall(inputs.gt, inputs.preds, conf=0.3, iou=0.5, areas=inputs.areas,
                          **common)
    cm = confusion_matrix(inputs.gt, inputs.preds, conf=0.3, iou=0.5, **common)
    local = evaluation_report(ev, pr, cm, conf=0.3, iou=0.5)
    r = evaluate_sharded(inputs.gt, inputs.preds, areas=inputs.areas, conf=0.3, iou=0.5,
                         cluster=client, shard_size=4, **common)
    remote = evaluation_report(r.evaluation, r.precision_recall, r.confusion, conf=0.3, iou=0.5)
    assert json.dumps(remote) == json.dumps(local)
    assert local["summary"]["map50"] > 0          # a real evaluation, not an empty one
    np.testing.assert_array_equal(r.evaluation.precision, ev.precision)


@pytest.mark.timeout(60)
def test_evaluate_edge_cases_crowds_areas_unnamed_classes_and_empty_images(client):
    rng = np.random.default_rng(5)
    gt, preds, crowd = {}, {}, {}
    for i in range(30):
        n = int(rng.integers(0, 5))
        xy = np.round(rng.uniform(0, 300, (n, 2)), 2)
        wh = np.round(rng.uniform(4, 120, (n, 2)), 2)
        cls = rng.integers(0, 3, n) * 2                      # ids 0, 2, 4: not 0..K-1
        gt[f"im{i:02d}"] = Detections(np.c_[xy, xy + wh], cls)
        crowd[f"im{i:02d}"] = rng.random(n) < 0.15
        if i % 4:
            jitter = np.round(rng.normal(0, 4, (n, 4)), 2)
            extra = int(rng.integers(0, 3))
            boxes = np.r_[np.c_[xy, xy + wh] + jitter, np.c_[xy[:extra], xy[:extra] + 30]]
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
            classes = np.r_[cls, np.full(min(extra, n), 6)]    # class 6 only predicted
            preds[f"im{i:02d}"] = Detections(boxes[:len(classes)], classes,
                                             np.round(rng.uniform(0.05, 1, len(classes)), 3))
    local = evaluate(gt, preds, iscrowd=crowd, ap_method="voc")
    remote = evaluate(gt, preds, iscrowd=crowd, ap_method="voc", cluster=client, shard_size=7)
    assert remote.summary == local.summary
    pd.testing.assert_frame_equal(remote.per_class, local.per_class)
    assert remote.names == ("0", "2", "4", "6")


@pytest.mark.timeout(180)
def test_evaluate_on_threshold_boxes_keeps_the_float64_values_as_pycocotools(
        client, tmp_path, monkeypatch, capsys):
    """Two-decimal COCO boxes placed on the IoU thresholds (#21): the workers get the file's
    float64 ``x, y, w, h`` and scores, so the cluster gives the local exact numbers, which
    are pycocotools' numbers; float32 corners alone would not."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    from test_metrics_thresholds import threshold_files

    from tecktrack.cli import main
    from tecktrack.metrics import SUMMARY_KEYS
    from tecktrack.metrics.loaders import load_coco

    gt_path, res_path = threshold_files(tmp_path, 5)
    inputs = load_coco(gt_path, res_path)
    common = {"names": inputs.names, "iscrowd": inputs.iscrowd, "exact": inputs.exact}
    ev = evaluate(inputs.gt, inputs.preds, areas=inputs.areas, **common)
    pr = precision_recall(inputs.gt, inputs.preds, conf=0.3, iou=0.55, areas=inputs.areas,
                          **common)
    cm = confusion_matrix(inputs.gt, inputs.preds, conf=0.3, iou=0.55, **common)
    r = evaluate_sharded(inputs.gt, inputs.preds, areas=inputs.areas, conf=0.3, iou=0.55,
                         cluster=client, shard_size=7, **common)
    assert r.evaluation.summary == ev.summary
    np.testing.assert_array_equal(r.evaluation.precision, ev.precision)
    np.testing.assert_array_equal(r.evaluation.recall, ev.recall)
    pd.testing.assert_frame_equal(r.evaluation.per_class, ev.per_class)
    pd.testing.assert_frame_equal(r.precision_recall, pr)
    pd.testing.assert_frame_equal(r.confusion, cm)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_path))
        oracle = COCOeval(coco_gt, coco_gt.loadRes(str(res_path)), "bbox")
        oracle.evaluate()
        oracle.accumulate()
        oracle.summarize()
    got = np.array([r.evaluation.summary[k] for k in SUMMARY_KEYS])
    np.testing.assert_allclose(got, oracle.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.evaluation.precision, oracle.eval["precision"], rtol=0,
                               atol=1e-12)
    # the same shards without the float64 values land on the other side of some threshold
    rough = evaluate(inputs.gt, inputs.preds, areas=inputs.areas, names=inputs.names,
                     iscrowd=inputs.iscrowd, cluster=client, shard_size=7)
    assert any(abs(rough.summary[k] - s) > 1e-9
               for k, s in zip(SUMMARY_KEYS, oracle.stats, strict=True))
    # the command: `evaluate --cluster` passes the loader's exact boxes on, same JSON
    argv = ["evaluate", "--gt", str(gt_path), "--pred", str(res_path), "--quiet"]
    assert main([*argv, "--json", str(tmp_path / "local.json")]) == 0
    _in_process_local_clusters(monkeypatch)
    assert main([*argv, "--json", str(tmp_path / "cl.json"), "--cluster", "local:2",
                 "--shard-size", "6"]) == 0
    capsys.readouterr()
    local = json.loads((tmp_path / "local.json").read_text())
    assert (tmp_path / "cl.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    np.testing.assert_allclose([local["summary"][k] for k in SUMMARY_KEYS], oracle.stats,
                               rtol=0, atol=1e-12)


def test_evaluate_refuses_unknown_images_on_the_client(client):
    gt = {"a": Detections([[0, 0, 5, 5]], [0])}
    with pytest.raises(Exception, match="not in the ground truth"):
        evaluate(gt, {"b": Detections([[0, 0, 5, 5]], [0], [0.5])}, cluster=client)


@pytest.mark.timeout(180)
def test_mine_with_the_second_look_gives_the_same_rankings(world, local_run, model, client):
    local = mine(local_run, world, model=model, top=8)
    remote = mine(local_run, world, model=model, top=8, cluster=client, shard_size=3)
    assert remote == local
    assert any("closer look" in r["reason"] for r in local["label_issues"])


@pytest.mark.timeout(120)
def test_mine_refuses_class_ids_beyond_the_names_on_workers_too(world, local_run, client,
                                                               tmp_path):
    """#21: a prediction class id beyond the data.yaml names is refused naming file:line,
    by the workers' reader as by the local one."""
    preds = tmp_path / "preds"
    shutil.copytree(local_run / "labels", preds)
    bad = sorted(preds.rglob("*.txt"))[3]
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join([*lines, "95 0.5 0.5 0.1 0.1 0.9"]) + "\n")
    where = f"{bad.name}:{len(lines) + 1}"
    with pytest.raises(FormatError, match=where) as local:
        mine(preds, world, top=5)
    with pytest.raises(FormatError, match=where) as remote:
        mine(preds, world, top=5, cluster=client, shard_size=3)
    assert str(remote.value) == str(local.value)


@pytest.mark.timeout(120)
def test_augment_checks_every_label_file_before_writing_on_a_cluster(world, client, tmp_path):
    """#21: a label file with a class id beyond the names stops augment before any output,
    on the cluster path as on the local one."""
    ds = tmp_path / "ds"
    shutil.copytree(world.parent, ds)
    label = ds / "labels" / "val" / "000020.txt"
    if not label.exists():
        label = next(ds.rglob("labels/**/000020.txt"))
    label.write_text(label.read_text() + "42 0.5 0.5 0.2 0.2\n")
    for kwargs in ({}, {"cluster": client, "shard_size": 2}):
        out = tmp_path / f"out{len(kwargs)}"
        with pytest.raises(FormatError, match="000020.txt"):
            augment_dataset(ds / "data.yaml", ["000017", "000020"], "flip", out, quiet=True,
                            **kwargs)
        assert not out.exists()


@pytest.mark.timeout(120)
def test_augment_writes_the_same_files_and_log(world, client, tmp_path):
    stems = ["000017", "000018", "000019", "000020", "000021"]
    ops = "flip,rotate,blur+contrast,copy_paste,resize:0.5"
    local = augment_dataset(world, stems, ops, tmp_path / "a", seed=4, quiet=True)
    remote = augment_dataset(world, stems, ops, tmp_path / "b", seed=4, quiet=True,
                             cluster=client, shard_size=2)
    for col in ("image", "labels"):
        remote[col] = remote[col].str.replace(str(tmp_path / "b"), str(tmp_path / "a"))
    pd.testing.assert_frame_equal(remote, local)
    a, b = _tree(tmp_path / "a", ("augmentations.csv",)), _tree(tmp_path / "b",
                                                                ("augmentations.csv", MANIFEST))
    assert a == b and len(a) == 2 * 5 * 5
    assert json.loads((tmp_path / "b" / MANIFEST).read_text())["outputs"] == sorted(a)


@pytest.mark.timeout(120)
def test_synth_dataset_has_the_same_bytes(client, tmp_path):
    generate_dataset(tmp_path / "a", n_images=12, size=96, seed=9, label_noise=0.3,
                     quiet=True, workers=1)
    generate_dataset(tmp_path / "b", n_images=12, size=96, seed=9, label_noise=0.3,
                     quiet=True, cluster=client, shard_size=5)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


# -- failures -----------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_a_path_the_workers_cannot_read_fails_before_any_output(world, model, client,
                                                                 tmp_path):
    images, root = source_images(world.parent / "images")
    ghost = root / "val" / "ghost.jpg"
    out = tmp_path / "out"
    with pytest.raises(ClusterError) as info:
        predict_images(model, [*images, ghost], root, out, quiet=True, cluster=client,
                       shard_size=4)
    message = str(info.value)
    assert str(ghost) in message and "worker" in message and "inproc://" in message
    assert not out.exists()


@pytest.mark.timeout(120)
def test_an_undecodable_image_is_skipped_counted_and_exits_1_as_locally(world, tmp_path,
                                                                          monkeypatch, capsys):
    """#21's policy on a cluster: a file the workers can open but not decode (a cut JPEG) is
    skipped, named and counted, exit status 1, the other images predicted, as a local run;
    only a path that cannot be opened at all is a ClusterError (the test above)."""
    from tecktrack.cli import main

    src = tmp_path / "src"
    shutil.copytree(world.parent / "images" / "val", src)
    good = (src / sorted(p.name for p in src.iterdir())[0]).read_bytes()
    (src / "cut.jpg").write_bytes(good[:200])
    argv = ["predict", "--quiet", "--model", str(MODEL), "--source", str(src)]
    assert main([*argv, "--out", str(tmp_path / "l"), "--cluster", "none"]) == 1
    local = capsys.readouterr().out
    _in_process_local_clusters(monkeypatch)
    assert main([*argv, "--out", str(tmp_path / "c"), "--cluster", "local:2",
                 "--shard-size", "2"]) == 1
    remote = capsys.readouterr().out
    skipped = [line for line in local.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == 1 and "cut.jpg" in skipped[0]
    assert [line for line in remote.splitlines() if line.startswith("skipped: ")] == skipped
    assert _tree(tmp_path / "c" / "labels") == _tree(tmp_path / "l" / "labels")
    summaries = [json.loads((tmp_path / d / "summary.json").read_text()) for d in "lc"]
    assert summaries[0]["unreadable"] == summaries[1]["unreadable"] == [skipped[0][9:]]
    assert summaries[0]["images"] == summaries[1]["images"] == len(list(src.iterdir())) - 1


def test_a_scheduler_that_does_not_answer_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("tecktrack.cluster.session.CONNECT_TIMEOUT", 2)
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler"):
        with cluster_session("tcp://127.0.0.1:9", quiet=True):
            pass


@pytest.mark.parametrize("address", ["processes:2", "lcoal:2", "tcp://no-such-host.invalid:8786"])
def test_a_scheduler_host_that_does_not_resolve_is_refused_at_once(monkeypatch, address):
    """``processes:2`` looks like ``host:port``: it was refused only after the 30 s connect
    timeout. A host name that does not resolve is refused before any connection."""
    def never(*args, **kwargs):
        raise AssertionError("no connection should be tried")

    monkeypatch.setattr("distributed.Client.__init__", never)
    with pytest.raises(ClusterError, match=r"no host is called .*local:N"):
        with cluster_session(address, quiet=True):
            pass


@pytest.mark.timeout(120)
def test_cli_prints_the_dashboard_once_and_a_closing_line_stdout_as_local(world, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TECKTRACK_CLUSTER": "local:1"}
    argv = [sys.executable, "-m", "tecktrack", "predict", "--quiet", "--model", str(MODEL),
            "--source", str(world.parent / "images" / "val"), "--shard-size", "2"]
    remote = subprocess.run([*argv, "--out", str(tmp_path / "c")], capture_output=True,
                            text=True, env=env, timeout=110, check=True)
    assert remote.stderr.count("dashboard") == 1
    assert "cluster: 2 shards ran, 0 retried, on 1 worker\n" in remote.stderr
    local = subprocess.run([*argv, "--out", str(tmp_path / "l"), "--cluster", "none"],
                           capture_output=True, text=True, env=env, timeout=110, check=True)
    assert "cluster" not in local.stderr
    assert remote.stdout.splitlines()[0].split(" (")[0] == local.stdout.splitlines()[0].split(
        " (")[0]
    assert _tree(tmp_path / "c" / "labels") == _tree(tmp_path / "l" / "labels")


# -- a worker dies mid-run ------------------------------------------------------------------
@pytest.mark.timeout(240)
def test_a_killed_worker_loses_and_doubles_nothing(world, model, local_run, tmp_path):
    from distributed.diagnostics.plugin import WorkerPlugin

    marker = str(tmp_path / "killed-once")

    class KillOnce(WorkerPlugin):
        """SIGKILL this worker's process when it starts shard 2 of a predict run (once)."""

        def __init__(self, marker: str):
            self.marker = marker

        def transition(self, key, start, finish, **kwargs):
            if finish != "executing" or not str(key).endswith("-000002"):
                return
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            import signal

            os.kill(os.getpid(), signal.SIGKILL)

    images, root = source_images(world.parent / "images")
    out = tmp_path / "killed"
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env_before) if p)
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as cluster, \
                distributed.Client(cluster) as c:
            c.register_plugin(KillOnce(marker))
            predict_images(model, images, root, out, save_images=True, quiet=True, cluster=c,
                           shard_size=3)
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_before
    assert Path(marker).exists()
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["retried"] >= 1
    local = _tree(local_run, ("summary.json",))
    assert _tree(out, ("summary.json", MANIFEST)) == local
    assert manifest["outputs"] == sorted(local)
    assert not (out / PARTIAL).exists()


# -- real data: a Darknet detector nobody here trained, COCO images and labels ---------------
@pytest.mark.real
@pytest.mark.timeout(240)
def test_real_darknet_on_coco128_same_labels_report_and_rankings(real_data, client, tmp_path):
    darknet = load_model(real_data / "models" / "yolo-fastest-1.1", conf=0.05)
    data = real_data / "coco128-val" / "data.yaml"
    images, root = source_images(real_data / "coco128-val" / "images")
    images = images[:40]      # OpenCV DNN is the slow backend: 40 real images are enough
    predict_images(darknet, images, root, tmp_path / "l", quiet=True)
    predict_images(darknet, images, root, tmp_path / "c", quiet=True, cluster=client,
                   shard_size=16)
    assert _tree(tmp_path / "c" / "labels") == _tree(tmp_path / "l" / "labels")
    inputs = load_inputs(data, tmp_path / "l" / "labels", split="val")
    local = evaluate(inputs.gt, inputs.preds, names=inputs.names)
    remote = evaluate(inputs.gt, inputs.preds, names=inputs.names, cluster=client,
                      shard_size=10)
    assert remote.to_dict() == local.to_dict() and local.summary["map50"] > 0.05
    assert (mine(tmp_path / "l", data, model=darknet, top=5, cluster=client, shard_size=8)
            == mine(tmp_path / "l", data, model=darknet, top=5))


@pytest.mark.timeout(180)
def test_a_failing_task_on_worker_processes_is_one_line_on_stderr(world, local_run, tmp_path):
    """A real ``--cluster local:1`` (worker processes): the workers' own "Compute Failed" log
    and traceback reached stderr before the run's one-line error."""
    preds = tmp_path / "preds"
    shutil.copytree(local_run / "labels", preds)
    bad = sorted(preds.rglob("*.txt"))[3]
    bad.write_text(bad.read_text() + "95 0.5 0.5 0.1 0.1 0.9\n")
    run = subprocess.run([sys.executable, "-m", "tecktrack", "mine", "--pred", str(preds),
                          "--gt", str(world), "--quiet", "--cluster", "local:1",
                          "--shard-size", "3"], capture_output=True, text=True, timeout=150,
                         cwd=REPO)
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines()
             if line.strip() and not line.startswith("cluster: local:1")]   # its banner
    assert len(lines) == 1 and f"{bad.name}:" in lines[0] and "class id 95" in lines[0], lines
