"""TeckTrack: an object-detection research workbench."""

from tecktrack.detections import Detections
from tecktrack.errors import TeckTrackError

__version__ = "0.1.0"
__all__ = ["Detections", "TeckTrackError", "__version__"]
