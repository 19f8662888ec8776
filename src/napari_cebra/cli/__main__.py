"""``python -m napari_cebra.cli``: the same as the ``napari-cebra`` command."""

import sys

from napari_cebra.cli import main

sys.exit(main())
