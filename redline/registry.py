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


def with_requirements(names: list[str]) -> list[str]:
    """The names, each preceded by the components it needs and the list lacks.

    A component class may say what must run before it (`requires = ("actors",)`): the
    roles step casts actors, so `--components roles` alone would find none and say
    nothing. The missing ones are put in front of the first that needs them, in the
    order they are needed; names already there keep their place.
    """
    import_builtin_components()
    out: list[str] = []

    def add(name: str, chain: tuple[str, ...] = ()) -> None:
        if name in out:
            return
        if name in chain:
            raise InputError(f"components require each other in a circle: {' -> '.join(chain + (name,))}")
        for need in getattr(REGISTRY.get(name), "requires", ()):
            add(need, chain + (name,))  # a no-op when it is already in place
        out.append(name)

    for name in names:
        add(name)
    return out


def registered() -> list[str]:
    import_builtin_components()
    return sorted(REGISTRY)


def create_component(name: str, **options) -> Component:
    import_builtin_components()
    if name not in REGISTRY:
        raise InputError(f"unknown component {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**options)
