"""The package imports and the ``eig`` command answers."""

from click.testing import CliRunner

import eigkit
from eigkit.cli import main


def test_version_is_reported_by_the_cli():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert eigkit.__version__ in result.output
