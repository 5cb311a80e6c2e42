from engine.cli import main
import sys
sys.exit(main())
