"""Sphinx configuration of snnvar's documentation site.

Build: ``sphinx-build -n -W --keep-going -b html docs docs/_build/html`` (what CI runs).
``-n`` makes every unresolved cross-reference to a snnvar name a warning and ``-W``
turns warnings into errors; so does a public name without a docstring (see
``_require_docstring``). References to other packages (torch, numpy, the standard
library) resolve through intersphinx when ``SNNVAR_DOCS_INTERSPHINX=1`` and the
network is there, and are otherwise left as plain text.
"""

from __future__ import annotations

import builtins
import collections.abc
import importlib
import importlib.util
import inspect
import os
import pathlib
import shutil
import sys
import typing
from pathlib import Path

from docutils import nodes
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import snnvar  # noqa: E402

project = "snnvar"
author = "the snnvar developers"
copyright = "2026, the snnvar developers"
release = snnvar.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "sphinxarg.ext",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
html_theme = "furo"
html_title = f"snnvar {release}"
nitpicky = True

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# The notebooks are rendered as they are in git: executed at their defaults by
# notebooks/execute.py, outputs and all (tests/notebooks checks that a fresh run prints the
# same headline). Executing them here would add minutes to every build.
nb_execution_mode = "off"

autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "imported-members": True,
    "member-order": "bysource",
    "show-inheritance": True,
    # torch's plumbing: a module's contract is documented on its class
    "exclude-members": "forward, extra_repr",
}
# A method without a docstring of its own shows its snnvar base class's; one that
# would show torch's text (state_dict, zero_grad) is reported by _require_docstring.
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_member_order = "bysource"
add_module_names = False

intersphinx_mapping = {}
if os.environ.get("SNNVAR_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "numpy": ("https://numpy.org/doc/stable", None),
    }

#: The packages whose public names (their ``__all__``) the API reference documents.
PUBLIC_PACKAGES = (
    "snnvar.variation",
    "snnvar.hardware",
    "snnvar.nn",
    "snnvar.models",
    "snnvar.training",
    "snnvar.evaluation",
    "snnvar.conversion",
    "snnvar.datasets",
    "snnvar.nir",
    "snnvar.runs",
    "snnvar.distributed",
    "snnvar.demo",
    "snnvar.fields",
    "snnvar.files",
    "snnvar.progress",
    "snnvar.cli",
)

logger = logging.getLogger("snnvar.docs")


def _copy_notebooks() -> None:
    """Render the notebooks from ``notebooks/`` (the one copy in git) as pages."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copyfile(notebook, target / notebook.name)


_copy_notebooks()


def _public_paths() -> dict[str, str]:
    """Where each public object is defined (``snnvar.variation.config.Variation``) ->
    where it is documented (``snnvar.variation.Variation``)."""
    paths: dict[str, str] = {}
    for package in ("snnvar", *PUBLIC_PACKAGES):
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            defined = getattr(obj, "__module__", None)
            qualname = getattr(obj, "__qualname__", None)
            if package == "snnvar":
                continue
            if isinstance(defined, str) and isinstance(qualname, str):
                paths.setdefault(f"{defined}.{qualname}", f"{package}.{name}")
    # the top-level re-exports: snnvar.Variation is snnvar.variation.Variation
    top = importlib.import_module("snnvar")
    for name in top.__all__:
        obj = getattr(top, name)
        for package in PUBLIC_PACKAGES:
            module = importlib.import_module(package)
            if name in module.__all__ and getattr(module, name) is obj:
                paths[f"snnvar.{name}"] = f"{package}.{name}"
                break
    return paths


PUBLIC_PATHS = _public_paths()


def _resolve_public(app, env, node, contnode):
    """Resolve a reference to a name's defining module (as type hints are written) or
    to a re-export (``snnvar.Variation``) to the page that documents it."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    public = PUBLIC_PATHS.get(target)
    if public is None:
        # a method or attribute of a public class: snnvar.variation.config.Variation.sample
        head = target.rpartition(".")[0]
        while head and public is None:
            if head in PUBLIC_PATHS:
                public = f"{PUBLIC_PATHS[head]}.{target[len(head) + 1 :]}"
                break
            head, _, _ = head.rpartition(".")
    if public is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], public, node, contnode
    )


def _lookup(target: str) -> object:
    """The object a dotted snnvar path names, or None."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part, None)
        return obj
    return None


_TYPE_MODULES = (builtins, typing, pathlib, collections.abc)


def _quiet_outside(app, domain, node):
    """Only snnvar's own references must resolve: torch, numpy and the standard
    library are linked when intersphinx is on and left as text otherwise, and a
    type variable (``T`` of a generic signature) is not a page."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    root = target.split(".")[0]
    if root == "snnvar":
        return True if isinstance(_lookup(target), typing.TypeVar) else None
    if "." not in target and any(hasattr(m, target) for m in _TYPE_MODULES):
        return True  # int, None, ValueError; Path, Any of a string annotation
    if "[" in target or "]" in target:
        return True  # a fragment of a subscripted type hint (dict[str, Any])
    if "." in target and importlib.util.find_spec(root) is not None:
        return True  # torch.Tensor, numpy.ndarray, pathlib.Path, typing.Any
    return None  # an unqualified name that resolved nowhere: a broken reference


def _require_description(app, domain, objtype, contentnode):
    """Every documented public object has a description: an attribute or a method
    without a docstring renders as a bare name (autodoc emits no docstring event for
    it, so :func:`_require_docstring` cannot see it)."""
    if domain != "py" or contentnode.astext().strip():
        return
    signature = contentnode.parent[0] if len(contentnode.parent) else None
    name = signature.get("fullname", "") if signature is not None else ""
    module = signature.get("module", "") if signature is not None else ""
    if not name or any(part.startswith("_") for part in name.split(".")):
        return
    owner_path, _, attr = f"{module}.{name}".rpartition(".")
    for base in getattr(_lookup(owner_path), "__mro__", ())[1:]:
        if not base.__module__.startswith("snnvar"):
            continue
        docs = ModuleAnalyzer.for_module(base.__module__).find_attr_docs()
        text = docs.get((base.__qualname__, attr))
        if text:  # a subclass sets the value of an attribute its snnvar base documents
            contentnode += nodes.paragraph(text=" ".join(line.strip() for line in text))
            return
    logger.warning(
        "public %s %s.%s has no docstring",
        objtype,
        module,
        name,
        type="snnvar",
        location=contentnode.parent,
    )


def _check_reference_complete(app, env):
    """Every name of every public package's ``__all__`` is documented somewhere (an
    ``:exclude-members:`` or a package without an API page would drop it silently);
    a re-export documented under the package that owns it counts."""
    documented = set(env.get_domain("py").objects)
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            homes = [
                f"{other}.{name}"
                for other in PUBLIC_PACKAGES
                if getattr(importlib.import_module(other), name, None) is obj
            ]
            if not documented.intersection(homes):
                logger.warning(
                    "public name %s.%s is not in the API reference", package, name, type="snnvar"
                )


def _public_bases(app, name, obj, options, bases):
    """``Bases:`` lists public classes only (not a private mixin such as ``_Restricted``)."""
    bases[:] = [b for b in bases if not b.__name__.startswith("_")]


def _attribute_comment(obj_name: str) -> list[str]:
    """The ``#:`` comment of a module constant, read from the module that defines it
    (autodoc reads it only in the module it documents, the package)."""
    package, _, name = obj_name.rpartition(".")
    module = sys.modules.get(package)
    if module is None:
        return []
    value = getattr(module, name, None)
    for modname, candidate in list(sys.modules.items()):
        if not (modname == package or modname.startswith(package + ".")) or candidate is None:
            continue
        if vars(candidate).get(name) is value:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", name))
            if docs:
                return list(docs)
    return []


_PLAIN: dict[int, list[str]] = {}


def _keep_attribute_text(app, what, name, obj, options, lines):
    """Before napoleon: remember an attribute's docstring. Napoleon reads the first
    line of one as ``type: description`` and would cut ``Scale s_l: "range" ...`` at
    its colon; our field docstrings are prose, their types come from the annotations."""
    if what in ("attribute", "data", "property"):
        _PLAIN[id(lines)] = list(lines)


def _require_docstring(app, what, name, obj, options, lines):
    """A public name without a docstring is a warning, so a build with ``-W`` fails."""
    if id(lines) in _PLAIN:
        lines[:] = _PLAIN.pop(id(lines))
    if any(part.startswith("_") for part in name.split(".")):
        return
    if what == "data":
        # a constant's own docstring is its type's (dict's, tuple's): use the comment
        # or string beside its definition
        lines[:] = _attribute_comment(name)
    elif what == "attribute" and not any(line.strip() for line in lines):
        lines[:] = _attribute_comment(name)
    if what in ("method", "property") and not getattr(obj, "__doc__", None):
        owner = _lookup(name.rpartition(".")[0])
        attr = name.rpartition(".")[2]
        bases = getattr(owner, "__mro__", ())[1:]
        source = next((b for b in bases if getattr(vars(b).get(attr), "__doc__", None)), None)
        if source is None or not source.__module__.startswith("snnvar"):
            lines[:] = []  # torch's (or Python's) text of the method it overrides is not ours
    if inspect.isclass(obj) and obj.__doc__ and obj.__doc__.startswith(obj.__name__ + "("):
        lines[:] = []  # the docstring dataclasses generate is not documentation
    if not any(line.strip() for line in lines):
        logger.warning("public %s %s has no docstring", what, name, type="snnvar")


def _is_constant(obj: object) -> bool:
    return not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj))


class PublicConstants(SphinxDirective):
    """``.. snnvar-constants:: snnvar.variation``: every constant of the package's
    ``__all__`` (autodoc documents module data only where the package itself holds
    its ``#:`` comment; ours sit beside the code that uses them)."""

    required_arguments = 1

    def run(self):
        package = self.arguments[0]
        module = importlib.import_module(package)
        documented = ModuleAnalyzer.for_module(package).find_attr_docs()
        text = []
        for name in module.__all__:
            value = getattr(module, name)
            if not _is_constant(value) or ("", name) in documented:
                continue  # automodule documents what the module's own source documents
            text.append(f".. autodata:: {package}.{name}")
            if len(repr(value)) > 80:
                text.append("   :no-value:")
            text.append("")
        return self.parse_text_to_nodes("\n".join(text))


def setup(app):
    app.add_directive("snnvar-constants", PublicConstants)
    app.connect("missing-reference", _resolve_public)
    app.connect("warn-missing-reference", _quiet_outside)
    app.connect("autodoc-process-docstring", _keep_attribute_text, priority=100)
    app.connect("autodoc-process-docstring", _require_docstring, priority=900)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("object-description-transform", _require_description)
    app.connect("env-check-consistency", _check_reference_complete)
    return {"parallel_read_safe": True}
