from vae.cli import main

raise SystemExit(main())
