"""One module per `pmc` command group; see controller.cli."""
