import sys

from probe.command import main

sys.exit(main())
