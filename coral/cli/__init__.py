"""The ``coral`` command line: a thin typer layer over the library.

Each command group lives in its own module, which registers its commands on the root app
and only parses options and calls the library.
"""

from coral.cli import corpus, labeling, models, study, pipeline, views  # noqa: F401  (registration)
from coral.cli.main import app

__all__ = ["app"]
