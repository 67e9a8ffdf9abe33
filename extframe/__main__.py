from extframe.cli import main

raise SystemExit(main())
