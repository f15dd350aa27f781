"""The betaneutral command, run in-process."""

from __future__ import annotations

import pytest

from betaneutral.cli import EXIT_DATA, EXIT_OK, EXIT_USAGE, main
from betaneutral.sample import TRUE_BETAS


def test_demo_prints_a_beta_table_close_to_the_generating_betas(capsys):
    """The demo's OLS betas on 729 synthetic returns lie within 4 SE of the generating betas."""
    assert main(["demo"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:]}
    for asset, true_beta in TRUE_BETAS.items():
        beta, se = float(rows[asset][1]), float(rows[asset][3])
        assert abs(beta - true_beta) < 4 * se


def test_data_error_is_one_line_on_stderr_with_exit_1(capsys):
    """Too short a window is a data error: one line, no traceback, exit code 1."""
    assert main(["demo", "--window", "5"]) == EXIT_DATA
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "min_obs=60" in err
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys):
    """An unknown command is a usage error."""
    assert main(["no-such-command"]) == EXIT_USAGE
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"]])
def test_help_exits_0(argv, capsys):
    """--help works on the command and its subcommands."""
    assert main(argv) == EXIT_OK
    assert "usage:" in capsys.readouterr().out
