"""One module per `tally` subcommand: add_arguments(parser) and run(args) -> exit code."""
