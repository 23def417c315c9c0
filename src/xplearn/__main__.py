"""``python -m xplearn``: environment report (``info``) and a cross-backend demo (``demo``)."""

import sys

from xplearn._cli import main

if __name__ == "__main__":
    sys.exit(main())
