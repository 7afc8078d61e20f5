import sys

from probe.run import main

sys.exit(main())
