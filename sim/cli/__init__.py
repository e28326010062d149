"""The `routesim` command: an argparse shell (shell) and one module per command group."""
