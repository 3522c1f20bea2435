"""One module per command-line verb (see xrbridge.cli)."""
