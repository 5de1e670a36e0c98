"""The docs say only what the repository holds.

README.md is the front page (short, with the two setup commands); measured
tables and long explanations live in docs/*.md. These tests read the markdown
as text (no JAX): every relative link and image points to a file that exists
(and, for a `#section` of a markdown page, to one of its headings), and every
module, script and config named in a command exists.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 150

# [text](target) and ![alt](target); the target ends at whitespace or ")".
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# `python -m vst.bench`, also when a line break splits the command.
_MODULE = re.compile(r"python\s+-m\s+((?:vst|experiments)(?:\.\w+)+)")
_SCRIPT = re.compile(r"python\s+(experiments/\w+\.py)")
_CONFIG = re.compile(r"(?<![\w/])(configs/\w+\.py)")
_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def _ids(page: pathlib.Path) -> str:
  return page.relative_to(ROOT).as_posix()


def _slug(heading: str) -> str:
  """GitHub's anchor for a heading: lower case, punctuation dropped, spaces
  to hyphens (backticks and markup go; word characters and hyphens stay)."""
  text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # [x](y) -> x
  text = text.lower().replace("`", "")
  text = re.sub(r"[^\w\- ]", "", text)
  return text.replace(" ", "-")


def _anchors(page: pathlib.Path) -> set[str]:
  anchors, seen, in_code = set(), {}, False
  for line in page.read_text().splitlines():
    if _FENCE.match(line):
      in_code = not in_code
      continue
    match = None if in_code else _HEADING.match(line)
    if match:
      slug = _slug(match.group(1))
      count = seen.get(slug, 0)
      seen[slug] = count + 1
      anchors.add(slug if count == 0 else f"{slug}-{count}")
  return anchors


def _links(page: pathlib.Path) -> list[str]:
  return _LINK.findall(page.read_text())


def test_docs_pages_exist():
  names = {page.name for page in PAGES if page.parent.name == "docs"}
  assert "README.md" in names, "docs/README.md is the index of the docs"
  assert len(names) > 5


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_relative_links_point_to_existing_files(page):
  broken = []
  for target in _links(page):
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
      continue
    path, _, fragment = target.partition("#")
    dest = page if not path else (page.parent / path).resolve()
    if not dest.exists():
      broken.append(f"{target}: no such file")
    elif fragment and dest.suffix == ".md" and fragment not in _anchors(dest):
      broken.append(f"{target}: no heading with anchor #{fragment}")
  assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def _module_exists(module: str) -> bool:
  path = ROOT.joinpath(*module.split("."))
  return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_commands_name_existing_modules_scripts_and_configs(page):
  text = page.read_text()
  missing = [m for m in _MODULE.findall(text) if not _module_exists(m)]
  missing += [s for s in _SCRIPT.findall(text) if not (ROOT / s).is_file()]
  missing += [c for c in _CONFIG.findall(text) if not (ROOT / c).is_file()]
  assert not missing, f"{page.relative_to(ROOT)} names: {sorted(set(missing))}"


def test_every_docs_page_is_in_the_index():
  index = {t.partition("#")[0] for t in _links(ROOT / "docs" / "README.md")}
  pages = {page.name for page in PAGES if page.parent.name == "docs"}
  assert pages - {"README.md"} <= index, pages - index


def test_readme_is_a_short_front_page_with_the_two_commands():
  text = README.read_text()
  lines = text.splitlines()
  assert len(lines) < MAX_README_LINES, (
      f"README.md has {len(lines)} lines; move long text to docs/")
  # The two commands that set everything up; CI (.ci/run) runs `make test`.
  assert re.search(r"^make train\b", text, re.M)
  assert re.search(r"^make test\b", text, re.M)
  assert "docs/README.md" in text


def test_the_model_list_links_every_model_file():
  text = README.read_text()
  # A model file is one that registers a model at import.
  model_files = {p.name for p in (ROOT / "vst" / "models").glob("*.py")
                 if p.name != "registry.py"
                 and re.search(r"^register\(", p.read_text(), re.M)}
  linked = {pathlib.PurePosixPath(t).name for t in _links(README)
            if t.startswith("vst/models/")}
  assert model_files <= linked, f"not linked from README: {model_files - linked}"
