"""Sphinx directives that generate jaxlstm's reference pages from the code itself.

- ``public-api MODULE``: every name of ``MODULE.__all__``, in its order, documented under its
  public name (``jaxlstm.lstm``, not ``jaxlstm.sequence.lstm``) by autodoc.
- ``config-reference``: every config section's keys, types, defaults and meanings, read from
  the dataclasses of ``jaxlstm.train.config`` and the tasks' dataclasses, so the page cannot
  drift from the code.
- ``experiment-curves``: each committed result's learning curves, with its commit.

At the end of reading, every name of the public modules' ``__all__`` must have been documented:
a name added to ``__all__`` and left off the site is a warning, an error under ``-W``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: The modules whose ``__all__`` is the public API; each has a page under ``api/``.
PUBLIC = ("jaxlstm", "jaxlstm.interop", "jaxlstm.flax", "jaxlstm.flax.linen", "jaxlstm.train",
          "jaxlstm.train.predict", "jaxlstm.tasks")


def _attribute_doc(name: str, value: object) -> list[str]:
    """The ``#:`` comment or string literal that documents a module-level constant, found in
    the jaxlstm module that defines it (the public module only re-exports it)."""
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("jaxlstm") or getattr(module, name, None) is not value:
            continue
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:  # noqa: BLE001 - a module without source (C extension): look on
            continue
        if ("", name) in docs:
            return [line for line in docs[("", name)] if line is not None]
    return []


def _parse(directive: SphinxDirective, lines: list[str]) -> list[nodes.Node]:
    """The nodes of generated reStructuredText, parsed in place of ``directive``."""
    container = nodes.container()
    directive.state.nested_parse(StringList(lines, source=f"<{directive.name}>"), directive.content_offset, container)
    return container.children


def _public_members(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    if not hasattr(module, "__all__"):
        raise ValueError(f"{module_name} has no __all__; the API pages document __all__")
    return [(name, getattr(module, name)) for name in module.__all__]


class PublicAPI(SphinxDirective):
    """``.. public-api:: jaxlstm.interop``: autodoc of every name in the module's ``__all__``."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        module_name = self.arguments[0]
        lines = [f".. py:module:: {module_name}", ""]
        for name, value in _public_members(module_name):
            full = f"{module_name}.{name}"
            if isinstance(value, types.ModuleType):
                lines += [f".. py:module:: {full}", "   :no-index:", "",
                          f"``{full}``: see :doc:`{value.__name__.replace('.', '_')}`.", ""]
            elif inspect.isclass(value) and issubclass(value, BaseException):
                lines += [f".. autoexception:: {full}", ""]
            elif inspect.isclass(value):
                # A NamedTuple's or dataclass's fields are described by its Attributes: section.
                if hasattr(value, "_fields"):
                    fields = value._fields
                elif dataclasses.is_dataclass(value):
                    fields = [field.name for field in dataclasses.fields(value)]
                else:
                    fields = ()
                exclude = [f"   :exclude-members: {', '.join(fields)}"] if fields else []
                lines += [f".. autoclass:: {full}", "   :members:", *exclude, ""]
            elif callable(value) and not isinstance(value, (dict, tuple, list)):
                lines += [f".. autofunction:: {full}", ""]
            else:
                doc = _attribute_doc(name, value)
                if not doc:
                    logger.warning(f"{full} has no documentation: give it a '#:' comment or a string "
                                   "literal under its assignment")
                if isinstance(value, dict):
                    doc += ["", "Its keys: " + ", ".join(f"``{key!r}``" for key in value) + "."]
                elif isinstance(value, (tuple, str)):
                    doc += ["", f"Its value: ``{value!r}``."]
                lines += [f".. py:data:: {name}", ""] + [f"   {line}" for line in doc] + [""]
        self.env.note_dependency(inspect.getsourcefile(importlib.import_module(module_name)))
        return _parse(self, lines)


def _type_name(annotation: object) -> str:
    """``int``, or a construct written out with its arguments: ``bool | Literal['step', 'sqrt']``."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_type_name(argument) for argument in arguments)
    if origin is typing.Literal:
        return f"Literal[{', '.join(map(repr, arguments))}]"
    if isinstance(annotation, type) and origin is None:
        return annotation.__name__
    return re.sub(r"\b(typing|builtins)\.", "", str(annotation))


def _field_docs(cls: type) -> dict[str, str]:
    """``name: text`` of the ``Attributes:`` section of a dataclass's docstring."""
    doc = inspect.getdoc(cls) or ""
    match = re.search(r"^Attributes:\n((?:(?:    .*)?\n?)*)", doc, flags=re.M)
    if not match:
        return {}
    found: dict[str, list[str]] = {}
    current = None
    for line in match.group(1).splitlines():
        entry = re.match(r"^    (\w+(?:, \w+)*)(?: \([^)]*\))?: ?(.*)$", line)
        if entry:  # "name: text", or "a, b: text" for several fields at once
            names = entry.group(1).split(", ")
            current = names[0]
            found[current] = [entry.group(2)]
            for alias in names[1:]:
                found[alias] = found[current]
        elif current and line.startswith("        "):
            found[current].append(line.strip())
    return {name: " ".join(words).strip() for name, words in found.items()}


def _plain(text: str) -> str:
    """Text with its cross-reference roles as literals: a class's summary, quoted out of the
    module where its short names (``:meth:`sample```) resolve."""
    return re.sub(r":\w+:`~?([^`]+)`", r"``\1``", text)


def _fields_table(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    docs = _field_docs(cls)
    rows = [".. list-table::", "   :header-rows: 1", "   :widths: 18 22 14 46", "",
            "   * - key", "     - type", "     - default", "     - meaning"]
    for field in dataclasses.fields(cls):
        if field.name.startswith("_") or not field.init:
            continue
        if field.default is not dataclasses.MISSING:
            default = f"``{json.dumps(list(field.default) if isinstance(field.default, tuple) else field.default)}``"
        elif field.default_factory is not dataclasses.MISSING:
            default = f"``{field.default_factory()!r}``"
        else:
            default = "(required)"
        meaning = _plain(docs.get(field.name, ""))
        if not meaning:
            logger.warning(f"{cls.__module__}.{cls.__qualname__}.{field.name} has no entry in the class's "
                           "Attributes: section, so the config reference cannot say what it means")
        rows += [f"   * - ``{field.name}``", f"     - ``{_type_name(hints[field.name])}``",
                 f"     - {default}", f"     - {meaning}"]
    return rows + [""]


class ConfigReference(SphinxDirective):
    """``.. config-reference::``: every key of every config section, from the dataclasses."""

    def run(self) -> list[nodes.Node]:
        from jaxlstm import tasks
        from jaxlstm.train import config

        lines: list[str] = []
        for section in dataclasses.fields(config.Config):
            cls = section.type if isinstance(section.type, type) else type(section.default)
            summary = _plain((inspect.getdoc(cls) or "").split("\n\n")[0])
            lines += [f".. rubric:: [{section.name}]", "", f".. py:class:: {cls.__qualname__}", f"   :module: {cls.__module__}", "",
                      f"   The section ``[{section.name}]``. {summary}", ""]
            if cls is config.TaskConfig:
                lines += [f"``name`` (default ``{json.dumps(cls().name)}``) is one of the tasks below; "
                          "the section's other keys are that task's options.", ""]
                continue
            lines += _fields_table(cls)
        lines += [".. rubric:: Tasks: the keys of [task] after name", ""]
        for name, task_cls in tasks.TASKS.items():
            summary = _plain((inspect.getdoc(task_cls) or "").split("\n\n")[0])
            lines += [f"``name = \"{name}\"``: :class:`jaxlstm.tasks.{task_cls.__name__}`. {summary}", ""]
            if any(f.init for f in dataclasses.fields(task_cls)):
                lines += _fields_table(task_cls)
        for source in (inspect.getsourcefile(config), inspect.getsourcefile(tasks)):
            self.env.note_dependency(source)
        return _parse(self, lines)


class ExperimentCurves(SphinxDirective):
    """``.. experiment-curves:: ../experiments/results``: each result's curves and commit."""

    required_arguments = 1
    option_spec = {"width": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        # The argument is relative to the page's own directory, as an image's path is.
        page_dir = Path(self.env.doc2path(self.env.docname)).parent
        root = (page_dir / self.arguments[0]).resolve()
        lines: list[str] = []
        for result in sorted(path for path in root.iterdir() if (path / "curves.png").is_file()):
            summary = json.loads((result / "summary.json").read_text())
            provenance = summary.get("provenance", {})
            commit = str(provenance.get("commit", "?"))[:7]
            clean = "" if provenance.get("clean", True) else " (tree not clean)"
            relative = Path(self.arguments[0]) / result.name / "curves.png"
            lines += [f".. rubric:: {result.name}", "",
                      f"``experiments/results/{result.name}``, run at commit ``{commit}``{clean}.", "",
                      f".. image:: {relative.as_posix()}", f"   :alt: learning curves of {result.name}",
                      f"   :width: {self.options.get('width', '100%')}", ""]
            self.env.note_dependency(str(result / "summary.json"))
        return _parse(self, lines)


class ModuleSummaries(SphinxDirective):
    """``.. module-summaries::`` with one module name a line: each as a target for ``:mod:``,
    with the first paragraph of its docstring (cross-references shown as literals)."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for module_name in (line.strip() for line in self.content if line.strip()):
            module = importlib.import_module(module_name)
            summary = _plain((inspect.getdoc(module) or "").split("\n\n")[0])
            lines += [f".. py:module:: {module_name}", "", f"``{module_name}``: {summary}", ""]
        return _parse(self, lines)


def check_public_api(app, env) -> None:
    """Every name of the public modules' ``__all__`` is on the site (under ``-W``: or no site)."""
    objects = env.get_domain("py").objects
    for module_name in PUBLIC:
        for name, value in _public_members(module_name):
            full = f"{module_name}.{name}"
            if isinstance(value, types.ModuleType):  # a module has its own page
                continue
            if full not in objects:
                logger.warning(f"{full} is in {module_name}.__all__ but no page documents it; "
                               f"add '.. public-api:: {module_name}' to an API page")


_ORIGINAL: dict[tuple[str, str], list[str]] = {}


def _before_napoleon(app, what, name, obj, options, lines) -> None:
    """Two forms of jaxlstm's docstrings that Napoleon would misread, made plain before it runs.

    An ``Attributes:`` entry naming several fields (``impl, remat: ...``) becomes one entry per
    field (Napoleon would read all but the last name as a type). And an attribute's or
    property's docstring is kept as written (Napoleon reads a first line such as "The params'
    dtype: ..." as ``type: description``); :func:`_after_napoleon` puts it back.
    """
    if what in ("attribute", "property", "data"):
        _ORIGINAL[(what, name)] = list(lines)
        return
    section, rewritten = False, []
    for line in lines:
        if re.match(r"^\w[\w ]*:$", line):
            section = line == "Attributes:"
        entry = re.match(r"^    (\w+(?:, \w+)+): (.*)$", line) if section else None
        if entry:
            first, *others = entry.group(1).split(", ")
            rewritten += [f"    {first}: {entry.group(2)}"] + [f"    {other}: as ``{first}``." for other in others]
        else:
            rewritten.append(line)
    lines[:] = rewritten


def _after_napoleon(app, what, name, obj, options, lines) -> None:
    if (what, name) in _ORIGINAL:
        lines[:] = _ORIGINAL.pop((what, name))


def setup(app):
    app.connect("autodoc-process-docstring", _before_napoleon, priority=100)
    app.connect("autodoc-process-docstring", _after_napoleon, priority=900)
    app.add_directive("public-api", PublicAPI)
    app.add_directive("config-reference", ConfigReference)
    app.add_directive("experiment-curves", ExperimentCurves)
    app.add_directive("module-summaries", ModuleSummaries)
    app.connect("env-check-consistency", check_public_api)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
