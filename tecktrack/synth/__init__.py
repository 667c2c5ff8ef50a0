"""The deterministic synthetic logistics world: TeckTrack's embedded default data.

Public API
----------
- :data:`CLASS_NAMES`: the 8 classes, in class-id order.
- :func:`generate_dataset`: YOLO dataset with train/val/test splits (optional label noise).
- :func:`generate_folders`: contaminated positive/background image folders with a manifest.
- :func:`generate_video`: an mp4 of objects moving across a scene, per-frame YOLO labels.
- :func:`ensure_default_world`: create the default datasets and video under ``data/``.
- :func:`render_image`: one dataset image and its ground truth, in memory.

Modules: ``objects`` (class drawers), ``backgrounds`` (textures, clutter, distractors),
``scene`` (placement, occlusion, visible-box labels), ``conditions`` (lighting, blur,
noise), ``noise`` (label noise), ``dataset``, ``folders``, ``video``, ``world``.
"""

from tecktrack.synth.dataset import SYNTH_VERSION, generate_dataset, render_image
from tecktrack.synth.folders import generate_folders
from tecktrack.synth.objects import CLASS_NAMES
from tecktrack.synth.video import generate_video
from tecktrack.synth.world import ensure_default_world

__all__ = ["CLASS_NAMES", "SYNTH_VERSION", "ensure_default_world", "generate_dataset",
           "generate_folders", "generate_video", "render_image"]
