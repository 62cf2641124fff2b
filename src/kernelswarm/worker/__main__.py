import sys

from kernelswarm.worker.main import main

sys.exit(main(sys.argv[1:]))
