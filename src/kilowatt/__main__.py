from kilowatt.cli import main

raise SystemExit(main())
