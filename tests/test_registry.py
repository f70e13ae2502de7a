"""The component registry: names, and the components a chosen one needs."""

from __future__ import annotations

import pytest

from redline.errors import InputError
from redline.registry import REGISTRY, create_component, register, registered, with_requirements


def test_builtin_components_are_registered():
    assert {"tagger", "lexicon", "actors", "relations", "claims", "roles", "link"} <= set(registered())
    with pytest.raises(InputError, match="unknown component 'nope'"):
        create_component("nope")


def test_a_component_pulls_in_what_it_needs():
    # `--components roles` alone used to find no actors and say nothing.
    assert with_requirements(["roles"]) == ["actors", "roles"]
    assert with_requirements(["tagger", "roles", "link"]) == ["tagger", "actors", "roles", "link"]
    assert with_requirements(["roles", "actors"]) == ["actors", "roles"]  # put before, not twice
    assert with_requirements(["lexicon", "actors", "roles"]) == ["lexicon", "actors", "roles"]


def test_requirements_in_a_circle_are_refused():
    @register("test-a")
    class A:
        name, requires = "test-a", ("test-b",)

    @register("test-b")
    class B:
        name, requires = "test-b", ("test-a",)

    try:
        with pytest.raises(InputError, match="circle"):
            with_requirements(["test-a"])
    finally:
        REGISTRY.pop("test-a"), REGISTRY.pop("test-b")


def test_the_pipeline_runs_the_pulled_in_component():
    from redline.pipeline import Pipeline

    pytest.importorskip("spacy")
    assert Pipeline.from_names(["roles"]).names == ["actors", "roles"]
