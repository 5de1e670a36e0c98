"""The studies open as notebooks: jupytext reads each script's `# %%` cells
into a notebook (what `make notebooks` writes), with the study's text as
markdown cells and its code intact. Parsing only; nothing runs."""

import pathlib

import jupytext
import nbformat
import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[2] / "experiments"
STUDIES = ("attention_factorisation", "fusion_in_time", "long_range")


@pytest.mark.parametrize("name", STUDIES)
def test_study_converts_to_a_notebook_with_cells(name, tmp_path):
  script = EXPERIMENTS / f"{name}.py"
  notebook = jupytext.read(script)
  kinds = [cell.cell_type for cell in notebook.cells]
  assert kinds.count("markdown") >= 2 and kinds.count("code") >= 2, kinds
  assert notebook.cells[0].cell_type == "markdown"
  assert notebook.cells[0].source.startswith("# "), "the title comes first"
  # The cells together are the script: the code still compiles, and the last
  # cell runs the study.
  code = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")
  compile(code, str(script), "exec")
  assert "main(" in notebook.cells[-1].source
  # Written as .ipynb, it is a valid notebook that reads back the same.
  path = tmp_path / f"{name}.ipynb"
  jupytext.write(notebook, path)
  nbformat.validate(nbformat.read(path, as_version=4))
  assert len(jupytext.read(path).cells) == len(notebook.cells)
