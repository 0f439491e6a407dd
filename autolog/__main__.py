import sys

from autolog.cli import main

sys.exit(main())
