"""`PrefixCheckedRoute` turns a request away on its path's literal prefix before FastAPI's full match; for
every route of the application and any path, it must answer exactly what the full match answers."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Match

from emporium.bootstrap.app import create_app
from emporium.platform.http.routing import PrefixCheckedRoute

ROUTES = [route for route in create_app().router.routes if isinstance(route, PrefixCheckedRoute)]
TEMPLATES = sorted({route.path for route in ROUTES})
_PARAM = re.compile(r"\{[^}]*\}")
METHODS = ["GET", "POST", "PATCH", "DELETE", "PUT"]


def full_match(route: PrefixCheckedRoute, scope: dict[str, object]) -> tuple[Match, dict[str, object]]:
    return APIRoute.matches(route, scope)


def scope_of(path: str, method: str, root_path: str = "") -> dict[str, object]:
    return {"type": "http", "path": path, "root_path": root_path, "method": method, "headers": []}


paths = st.one_of(
    # a template with its parameters filled, sometimes with something appended or cut short
    st.builds(
        lambda template, value, tail, cut: (_PARAM.sub(value, template) + tail)[: len(template) - cut or None],
        st.sampled_from(TEMPLATES),
        st.sampled_from(["ord_1", "x", "", "a/b", "{id}"]),
        st.sampled_from(["", "/", "/x", "x", "/cancel"]),
        st.integers(0, 6),
    ),
    st.text(alphabet="/v1abcdeorsptiu-_{}", max_size=40).map(lambda text: "/" + text),
)


def test_the_routes_of_the_application_check_their_prefix() -> None:
    assert len(ROUTES) > 40, "the application's gated routes should be prefix-checked"
    assert any(route.path == "/v1/orders" for route in ROUTES)


@settings(max_examples=300, deadline=None)
@given(path=paths, method=st.sampled_from(METHODS), root_path=st.sampled_from(["", "/shop"]))
def test_the_prefix_check_answers_what_the_full_match_answers(path: str, method: str, root_path: str) -> None:
    for route in ROUTES:
        scope = scope_of(root_path + path if root_path else path, method, root_path)
        assert route.matches(dict(scope)) == full_match(route, dict(scope)), (route.path, path, method)


def test_each_template_matches_its_own_route_and_a_sibling_path_is_turned_away() -> None:
    for route in ROUTES:
        concrete = _PARAM.sub("ord_1", route.path)
        method = sorted(route.methods)[0]
        match, child = route.matches(scope_of(concrete, method))
        assert match is Match.FULL and child["route"] is route
        assert route.matches(scope_of("/nowhere" + concrete, method))[0] is Match.NONE
