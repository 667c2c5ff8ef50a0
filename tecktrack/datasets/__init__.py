"""Data layer: YOLO label files, ``data.yaml``, images, COCO JSON, :class:`Dataset`, BoxTable.

Everything read here becomes :class:`~tecktrack.detections.Detections` (pixel corners), a
:class:`DataConfig` or a columnar :class:`BoxTable`; everything malformed becomes a
:class:`~tecktrack.errors.FormatError` or :class:`~tecktrack.errors.DatasetError` naming the
file, the line and what is wrong. This wing knows no model.

Examples
--------
>>> from tecktrack.datasets import Dataset, read_yolo_labels         # doctest: +SKIP
>>> ds = Dataset.from_yaml("data/synth/data.yaml")                   # doctest: +SKIP
"""

from tecktrack.datasets.box_table import (
    BoxTable,
    list_label_files,
    read_label_dir,
    read_label_files,
)
from tecktrack.datasets.coco import (
    CocoDataset,
    CocoImage,
    CocoResults,
    coco_results,
    coco_to_dict,
    read_coco,
    read_coco_results,
    read_coco_results_exact,
    write_coco,
    write_coco_results,
)
from tecktrack.datasets.data_yaml import DataConfig, read_data_yaml
from tecktrack.datasets.dataset import SIZE_BUCKETS, Dataset, DatasetItem, DatasetStats, size_bucket
from tecktrack.datasets.images import (
    IMAGE_SUFFIXES,
    image_size,
    is_image_file,
    list_images,
    read_image,
)
from tecktrack.datasets.yolo import (
    COORD_TOLERANCE,
    LabelProblem,
    LabelWarning,
    box_notes,
    count_notes,
    label_path_for,
    read_yolo_labels,
    write_yolo_labels,
)

__all__ = [
    "COORD_TOLERANCE", "IMAGE_SUFFIXES", "SIZE_BUCKETS", "BoxTable", "CocoDataset", "CocoImage",
    "CocoResults",
    "DataConfig", "Dataset", "DatasetItem", "DatasetStats", "LabelProblem", "LabelWarning",
    "box_notes", "coco_results", "count_notes",
    "coco_to_dict", "image_size", "is_image_file", "label_path_for", "list_images",
    "list_label_files", "read_coco", "read_coco_results", "read_coco_results_exact",
    "read_data_yaml", "read_image",
    "read_label_dir", "read_label_files", "read_yolo_labels", "size_bucket", "write_coco",
    "write_coco_results", "write_yolo_labels",
]
