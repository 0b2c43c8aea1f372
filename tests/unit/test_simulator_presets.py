"""Site presets are valid page graphs, and validation catches the broken ones."""

from __future__ import annotations

import random
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from simulator.catalog import build_catalog
from simulator.presets import (
    ECOMMERCE,
    KPI_NAMES,
    PRESETS,
    Page,
    PresetError,
    get_preset,
    guess_preset,
    validate,
)
from simulator.sources import SOURCE_KINDS


@pytest.mark.parametrize("name", list(PRESETS))
def test_shipped_presets_are_valid(name: str) -> None:
    preset = get_preset(name)
    validate(preset)
    assert set(preset.landings) == set(SOURCE_KINDS)
    assert set(preset.ranges) == set(KPI_NAMES)
    assert any(page.goal for page in preset.pages.values())
    for page in preset.pages.values():
        assert all(weight > 0 for _, weight in page.links)
        assert page.exit + sum(w for _, w in page.links) > 0


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_page_renders_to_a_url_of_the_site(name: str) -> None:
    preset = get_preset(name)
    catalog = build_catalog(1).with_vocabulary(preset.vocabulary)
    rng = random.Random(1)
    for page in preset.pages.values():
        url = preset.render(page, rng, catalog)
        assert url.startswith(preset.origin + "/") and "{" not in url


def _with_page(page: Page) -> object:
    return replace(ECOMMERCE, pages={**ECOMMERCE.pages, page.name: page})


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (
            _with_page(replace(ECOMMERCE.pages["home"], links=(("nowhere", 1.0),))),
            "unknown page 'nowhere'",
        ),
        (
            _with_page(replace(ECOMMERCE.pages["home"], links=(("category", 0.0),))),
            "positive weight",
        ),
        (_with_page(replace(ECOMMERCE.pages["home"], path="/x/{nope}")), "unknown slot"),
        (_with_page(replace(ECOMMERCE.pages["home"], dwell_s=0)), "dwell"),
        (
            replace(
                ECOMMERCE, landings={k: v for k, v in ECOMMERCE.landings.items() if k != "email"}
            ),
            "'email'",
        ),
        (replace(ECOMMERCE, funnel=()), "needs a funnel"),
        # steps are exact stored paths: a page with slots has no single path
        (
            replace(ECOMMERCE, funnel=("/", "/products/{product}")),
            "funnel step '/products/{product}'",
        ),
        (replace(ECOMMERCE, funnel=("/", "/products")), "funnel step '/products'"),
        # the only way to the goal is cut: cart no longer links to checkout
        (_with_page(replace(ECOMMERCE.pages["cart"], links=(("product", 1.0),))), "unreachable"),
    ],
)
def test_validation_names_the_problem(broken: object, problem: str) -> None:
    with pytest.raises(PresetError, match=problem):
        validate(broken)  # type: ignore[arg-type]


def test_a_loop_without_exits_is_refused() -> None:
    trap_a = Page("trap_a", "/a", 10, 0.5, (("trap_b", 1.0),), exit=0, bounce=0)
    trap_b = Page("trap_b", "/b", 10, 0.5, (("trap_a", 1.0),), exit=0, bounce=0)
    pages = {**ECOMMERCE.pages, "trap_a": trap_a, "trap_b": trap_b}
    pages["home"] = replace(
        ECOMMERCE.pages["home"], links=(*ECOMMERCE.pages["home"].links, ("trap_a", 1.0))
    )
    with pytest.raises(PresetError, match="never end"):
        validate(replace(ECOMMERCE, pages=pages))


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_funnel_step_is_a_page_the_preset_renders(name: str) -> None:
    preset = get_preset(name)
    fixed = {p.path for p in preset.pages.values() if not p.slots}
    assert all(step == "conversion" or step in fixed for step in preset.funnel)


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_is_recognised_from_the_paths_it_stores(name: str) -> None:
    preset = get_preset(name)
    catalog = build_catalog(2).with_vocabulary(preset.vocabulary)
    rng = random.Random(2)
    paths = [
        urlsplit(preset.render(page, rng, catalog)).path
        for page in preset.pages.values()
        for _ in range(3)
    ]
    assert all(preset.knows(path) for path in paths)
    assert guess_preset(paths) is preset


def test_unknown_paths_name_no_preset_and_shared_ones_the_default() -> None:
    assert guess_preset(["/wp-admin", "/landing/x"]) is None
    assert guess_preset([]) is None
    assert guess_preset(["/", "/search"]) is ECOMMERCE


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(
        PresetError, match="unknown preset 'shop'; choose one of ecommerce, media, saas"
    ):
        get_preset("shop")
