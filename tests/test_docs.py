"""The built documentation site: offline, and what a browser shows of it.

The site is built by ``sphinx-build -E -W --keep-going -b html docs docs/_build/html`` (``pip
install -e '.[docs]'``), which already fails on a warning, an undocumented public name or a
failing example. These tests read what it built: they skip where no site has been built, or
where no Chromium is installed, and ``.ci/run`` builds the site, installs Chromium and runs them
with ``JAXLSTM_REQUIRE_DOCS=1``, under which a skip is a failure. ``JAXLSTM_DOCS_SCREENSHOTS``
names a directory to keep the screenshots in.
"""

from __future__ import annotations

import html
import inspect
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import jaxlstm

SITE = Path(os.environ.get("JAXLSTM_DOCS_SITE", Path(__file__).parents[1] / "docs" / "_build" / "html"))
REQUIRED = os.environ.get("JAXLSTM_REQUIRE_DOCS") == "1"


def _skip_or_fail(reason: str):
    if REQUIRED:
        pytest.fail(f"{reason}, and JAXLSTM_REQUIRE_DOCS=1 says the docs must be checked")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        _skip_or_fail(f"no built site at {SITE} (build it: pip install -e '.[docs]' && "
                      "sphinx-build -E -W --keep-going -b html docs docs/_build/html)")
    return SITE


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    _skip_or_fail("no Chromium on PATH (Debian: apt-get install chromium)")


# Loading something from another host: a script, a stylesheet, an image, a font or a frame.
_REMOTE_HTML = re.compile(r"<(script|link|img|iframe|source|video|audio)\b[^>]*\b(src|href)=\"(https?:)?//", re.I)
_REMOTE_CSS = re.compile(r"(url\(\s*['\"]?(https?:)?//|@import\s+['\"]?(url\()?['\"]?(https?:)?//)", re.I)


def test_the_site_loads_nothing_from_the_network(site):
    """Every page and stylesheet uses only files of the site: no web fonts, CDN scripts or
    remote images (a hyperlink to another site is not a load, and is allowed)."""
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    loads = [f"{page.relative_to(site)}: {match.group(0)}" for page in pages
             for match in _REMOTE_HTML.finditer(page.read_text(errors="replace"))]
    loads += [f"{sheet.relative_to(site)}: {match.group(0)}" for sheet in site.rglob("*.css")
              for match in _REMOTE_CSS.finditer(sheet.read_text(errors="replace"))]
    assert not loads, "the site loads from the network:\n" + "\n".join(loads)


def _headless(chromium: str, page: Path, tmp_path: Path, *flags: str) -> str:
    """Chromium's standard output for ``page`` opened headless with ``flags``."""
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout


def _rendered_text(chromium: str, page: Path, tmp_path: Path) -> str:
    """The text of ``page`` as Chromium renders it (its DOM after scripts ran), tags removed."""
    dom = _headless(chromium, page, tmp_path, "--dump-dom")
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    # Tags go without a trace: a signature is split into many inline elements.
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", body)))


def _screenshot(chromium: str, page: Path, png: Path, tmp_path: Path) -> None:
    _headless(chromium, page, tmp_path, "--hide-scrollbars", "--window-size=1280,1400", f"--screenshot={png}")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def _screenshots(tmp_path: Path) -> Path:
    keep = os.environ.get("JAXLSTM_DOCS_SCREENSHOTS")
    directory = Path(keep) if keep else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_chromium_shows_the_home_page_with_the_readme_commands(site, chromium, tmp_path):
    text = _rendered_text(chromium, site / "index.html", tmp_path)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv && ")]
    assert len(commands) == 2
    for expected in ["jaxlstm", "Quick start", "A short tour", *commands, "Choosing an impl and a precision",
                     "API reference"]:
        assert expected in text, f"the home page, as rendered, lacks {expected!r}"
    _screenshot(chromium, site / "index.html", _screenshots(tmp_path) / "home.png", tmp_path)


def test_chromium_shows_the_signature_of_lstm_on_its_api_page(site, chromium, tmp_path):
    """The API page renders ``jaxlstm.lstm`` with its real signature, every parameter of the
    function in order, and its docstring's first line."""
    text = _rendered_text(chromium, site / "api" / "jaxlstm.html", tmp_path)
    signature = inspect.signature(jaxlstm.lstm)
    start = text.index("jaxlstm.lstm(params")
    shown = text[start:start + 1500]
    positions = [re.search(rf"\b{name}\s*[:=]", shown).start() for name in signature.parameters]
    assert positions == sorted(positions), shown
    assert "seq_lengths: Array | None = None" in shown and "impl: Literal[" in shown, shown
    assert inspect.getdoc(jaxlstm.lstm).splitlines()[0].replace("`", "") in text
    _screenshot(chromium, site / "api" / "jaxlstm.html", _screenshots(tmp_path) / "api_jaxlstm.png", tmp_path)


def test_the_config_reference_lists_every_key_of_every_section(site):
    """The generated config page names every field of every section, and every task."""
    import dataclasses

    from jaxlstm import tasks
    from jaxlstm.train import config

    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", (site / "api" / "config.html").read_text())))
    for section in dataclasses.fields(config.Config):
        assert f"[{section.name}]" in text
        for field in dataclasses.fields(type(section.default)):
            if field.init and section.name != "task":
                assert f" {field.name} " in text, f"{section.name}.{field.name} is not on the config page"
    for name in tasks.TASKS:
        assert f'name = "{name}"' in text
