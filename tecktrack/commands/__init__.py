"""Sub-commands of ``tecktrack``: each module defines ``register(subparsers)``."""
