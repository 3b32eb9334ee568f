"""The ``readout`` program (``readout ...`` or ``python -m readout ...``): :func:`entry`."""

from analyses.core import imports


def entry() -> None:
    """Run the command line (:func:`readout.cli.entry`), its modules imported uncollected.

    The program marks itself (:data:`analyses.core.imports.PROGRAM`), so that the modules
    it imports the command line with, and pyplot and WeasyPrint when a command imports them
    (:func:`analyses.core.imports.import_once`), are kept out of the cyclic collector's
    sight (:func:`analyses.core.imports.out_of_collection`).
    """
    imports.PROGRAM = True
    with imports.out_of_collection():
        from readout import cli
    cli.entry()


if __name__ == "__main__":
    entry()
