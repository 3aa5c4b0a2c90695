"""``jaxlstm shapes``: the walk through one step prints the shapes of the classic explanation."""

import re
import subprocess
import sys

import pytest

from jaxlstm.cli import main


def shapes_table(text):
    """name -> shape for every row of the walk."""
    return {m[1].strip(): m[2] for m in re.finditer(r"^  (\S.{0,13})(\([\d, ]*\))", text, re.M)}


def test_shapes_h3_i2(capsys):
    assert main(["shapes", "--input-size", "2", "--hidden-size", "3"]) == 0
    table = shapes_table(capsys.readouterr().out)
    assert table["x(t)"] == "(2,)" and table["h(t-1)"] == "(3,)"
    assert table["W"] == "(3, 2)" and table["U"] == "(3, 3)" and table["V = [U, W]"] == "(3, 5)"
    assert table["V"] == "(5, 12)" and table["gate"] == "(3,)" and table["i, f, g, o"] == "(3,)"
    assert table["c(t)"] == "(3,)" and table["h(t)"] == "(3,)"


def test_shapes_other_sizes_and_checks(capsys):
    main(["shapes", "--input-size", "7", "--hidden-size", "4"])
    out = capsys.readouterr().out
    table = shapes_table(out)
    assert table["W"] == "(4, 7)" and table["V = [U, W]"] == "(4, 11)" and table["V"] == "(11, 16)"
    errors = [float(e) for e in re.findall(r"^  check: .* ([\d.e+-]+)$", out, re.M)]
    assert len(errors) == 2 and max(errors) < 1e-6


def test_bad_size_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["shapes", "--hidden-size", "0"])
    assert exit.value.code == 2
    assert "expected a positive integer; got 0" in capsys.readouterr().err


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "jaxlstm", "shapes"], capture_output=True, text=True, check=True)
    assert "Why h(t) keeps the size of h(t-1)" in out.stdout


def test_readme_shows_the_current_walk():
    """The README's block is the output of ``jaxlstm shapes --input-size 2 --hidden-size 3``."""
    import pathlib

    from jaxlstm.shapes import walk_shapes

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("```text\n", 1)[1].split("```", 1)[0].rstrip("\n")
    without_numbers = lambda text: re.sub(r"(check: .*) [\d.e+-]+$", r"\1", text, flags=re.M)
    assert without_numbers(block) == without_numbers(walk_shapes(2, 3))
