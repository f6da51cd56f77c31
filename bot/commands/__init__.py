"""One module per CLI subcommand: parse nothing, call the core, print."""
