"""Rectification, cleaning: the detector-driven plan for ``positive/`` + ``background/``
folders, and the manifest-backed moves that apply, resume and undo it.

Examples
--------
>>> from tecktrack.cleaning import folder_layout, apply_manifest      # doctest: +SKIP
>>> layout = folder_layout("data/synth-folders")                      # doctest: +SKIP
"""

from tecktrack.cleaning.moves import (
    MANIFEST_VERSION,
    apply_manifest,
    move_states,
    read_manifest,
    sha256_of,
    undo_manifest,
    write_manifest,
)
from tecktrack.cleaning.plan import (
    BACKGROUND,
    FolderLayout,
    classify_images,
    folder_layout,
    misfiled_scores,
    outcome_counts,
    score_images,
)

__all__ = [
    "BACKGROUND", "MANIFEST_VERSION", "FolderLayout", "apply_manifest", "classify_images",
    "folder_layout", "misfiled_scores", "move_states", "outcome_counts", "read_manifest",
    "score_images", "sha256_of", "undo_manifest", "write_manifest",
]
