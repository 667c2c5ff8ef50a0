import sys

from tecktrack.cli import main

sys.exit(main())
