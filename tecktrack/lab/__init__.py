"""Workbench: what the notebooks use. A model's predictions on a split, tables by domain
(mining, augmentation, cleaning), plots, saving figures and tables, the papermill runner,
the operating-point explorer, the review queue and their ipywidgets front ends.

Examples
--------
>>> from tecktrack.lab import notebook_setup, predict_split, save_table   # doctest: +SKIP
>>> figures, tables = notebook_setup("../results")                        # doctest: +SKIP
"""

from tecktrack.lab import plots
from tecktrack.lab.augmentation import (
    ScoredVersion,
    augmentation_summary,
    augmented_versions,
    scored_versions,
)
from tecktrack.lab.cleaning_tables import cleaning_sweep, move_plan, pick_examples, sample_layout
from tecktrack.lab.explorer import ExplorerState, explorer_state, filter_images, outcome_figure
from tecktrack.lab.mining_tables import label_issue_hits, label_noise
from tecktrack.lab.predictions import (
    SplitPredictions,
    annotated,
    ground_truth,
    predict_split,
    sample_items,
    side_by_side,
)
from tecktrack.lab.report import flat_header, notebook_setup, save_figure, save_table
from tecktrack.lab.review import ReviewCard, ReviewQueue, card_image, cards_table, review_cards
from tecktrack.lab.runner import (
    NotebookRun,
    list_notebooks,
    parse_parameters,
    run_notebook,
    run_notebooks,
    select_notebooks,
)
from tecktrack.lab.widgets import (
    interactive,
    show_explorer,
    show_hard_gallery,
    show_image_browser,
    show_review_queue,
)

__all__ = [
    "ExplorerState", "ReviewCard", "ReviewQueue", "card_image", "cards_table",
    "explorer_state", "filter_images", "interactive", "outcome_figure", "review_cards",
    "show_explorer", "show_hard_gallery", "show_image_browser", "show_review_queue",
    "NotebookRun", "ScoredVersion", "SplitPredictions", "annotated", "augmentation_summary",
    "augmented_versions", "cleaning_sweep", "flat_header", "ground_truth", "label_issue_hits",
    "label_noise", "list_notebooks", "move_plan", "notebook_setup", "parse_parameters",
    "pick_examples", "plots", "predict_split", "run_notebook", "run_notebooks", "sample_items",
    "sample_layout", "side_by_side", "save_figure", "save_table", "scored_versions",
    "select_notebooks",
]
