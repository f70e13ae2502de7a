"""The component registry, in a module of its own.

Components register here under a name (`@register("actors")`), and the pipeline builds
itself from names. Why a separate module: the components import `register`, and the
pipeline imports the components; with the registry inside `pipeline.py` that was a
circle. Now both import this small module, and it imports neither (the built-in
components are imported lazily, by name, the first time a name is looked up).
"""

from __future__ import annotations

from typing import Callable, Protocol

from redline.doc import Document
from redline.errors import InputError


class Component(Protocol):
    name: str

    def __call__(self, doc: Document) -> Document: ...


REGISTRY: dict[str, Callable[..., Component]] = {}

BUILTIN_MODULES = (
    "redline.components.lexicon", "redline.components.tagger", "redline.components.actors",
    "redline.components.relations", "redline.components.claims", "redline.components.roles",
    "redline.components.link",
)


def register(name: str):
    """Decorator: make a component class (or any factory of components) available by name.

    A class that sets `uses_parse = True` reads the spaCy parse: a pipeline that has one
    starts loading spaCy while it builds its other components, and starts each parse early.
    """
    def deco(factory):
        REGISTRY[name] = factory
        return factory
    return deco


def import_builtin_components() -> None:
    """Import the built-in component modules (importing them runs their @register)."""
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def registered() -> list[str]:
    import_builtin_components()
    return sorted(REGISTRY)


def create_component(name: str, **options) -> Component:
    import_builtin_components()
    if name not in REGISTRY:
        raise InputError(f"unknown component {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**options)
