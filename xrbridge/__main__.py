from xrbridge.cli import main

raise SystemExit(main())
