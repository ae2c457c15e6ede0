"""node/'s one error tree (``node.errors``): every class sits on one branch, and the drawing in the
docstring is the tree the code has."""

from __future__ import annotations

import inspect
import re

from node import errors
from node.errors import BadData, NodeError, Refusal, TransportError

CLASSES = {
    name: cls
    for name, cls in vars(errors).items()
    if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == errors.__name__
}


def test_every_error_is_on_one_branch() -> None:
    branches = (BadData, TransportError, Refusal)
    for name, cls in CLASSES.items():
        if cls in (NodeError, *branches):
            continue
        assert sum(issubclass(cls, b) for b in branches) == 1, name


def test_the_drawing_is_the_tree() -> None:
    """Each drawn line's indentation gives its parent; it must be the class's real base."""
    doc = errors.__doc__ or ""
    drawn = re.findall(r"^    ([│ ]*)(?:[├└]── )?([A-Z][A-Za-z]+)\s", doc, flags=re.M)
    assert {name for _, name in drawn} == set(CLASSES)
    parents: list[str] = []
    for prefix, name in drawn:
        depth = len(prefix) // 4 + (1 if name != "NodeError" else 0)
        parents = [*parents[:depth], name]
        if depth:
            assert CLASSES[name].__bases__ == (CLASSES[parents[depth - 1]],), name


def test_codes_name_the_refusal() -> None:
    assert errors.RuleError("vote.not-present", "not on the roll").code == "vote.not-present"
    assert errors.ApiRefusal("roster.already-admitted", "admitted", 422).code == "roster.already-admitted"
    assert errors.ConfigError("no node.json").code == "data-folder"
    assert errors.CliError("a bad --quorum").code == "refused"
    assert errors.CliError("NOT VALID", "not-valid").code == "not-valid"
    assert str(errors.ApiRefusal("x", "the message", 400)) == "the message"
