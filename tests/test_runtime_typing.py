"""npmaudit.runtime_typing: the stand-ins for typing's NamedTuple, Protocol and runtime_checkable
behave as typing's own for what the package uses of them (issue 17: an offline audit does not
import typing). Each behaviour is compared with typing's class built from the same declaration."""

from __future__ import annotations

import typing

import pytest

from npmaudit import runtime_typing as lean


def _pair(base: type) -> type:
    class Pair(base):  # type: ignore[misc, valid-type]
        """Two values."""

        left: int
        right: str = "r"

        def joined(self) -> str:
            return f"{self.left}{self.right}"

    return Pair


@pytest.mark.parametrize("base", [typing.NamedTuple, lean.NamedTuple], ids=["typing", "lean"])
def test_a_named_tuple_class_behaves_as_typings(base: type) -> None:
    pair = _pair(base)
    value = pair(1)
    assert value == (1, "r") and tuple(value) == (1, "r")
    assert value.left == 1 and value.right == "r" and value.joined() == "1r"
    assert value._replace(right="x") == pair(1, "x")
    assert pair._fields == ("left", "right") and pair._field_defaults == {"right": "r"}
    assert pair.__doc__ == "Two values."
    assert pair.__name__ == "Pair" and pair.__module__ == __name__
    assert repr(value) == "Pair(left=1, right='r')"
    assert hash(value) == hash((1, "r"))
    left, right = value
    assert (left, right) == (1, "r")
    with pytest.raises(AttributeError):
        value.left = 2  # type: ignore[misc]


@pytest.mark.parametrize("base", [typing.NamedTuple, lean.NamedTuple], ids=["typing", "lean"])
def test_a_field_without_default_after_one_with_is_refused(base: type) -> None:
    with pytest.raises(TypeError, match="cannot follow default field"):

        class Bad(base):  # type: ignore[misc, valid-type]
            first: int = 0
            second: int


def _protocols(protocol: typing.Any, checkable: typing.Any) -> tuple[type, type]:
    @checkable
    class Closable(protocol):  # type: ignore[misc, valid-type]
        def close(self) -> None: ...

    class Named(protocol):  # type: ignore[misc, valid-type]
        def name(self) -> str: ...

    return Closable, Named


class _HasClose:
    def close(self) -> None:
        pass


class _NoClose:
    close = None


@pytest.mark.parametrize(
    ("protocol", "checkable"),
    [(typing.Protocol, typing.runtime_checkable), (lean.Protocol, lean.runtime_checkable)],
    ids=["typing", "lean"],
)
def test_isinstance_against_a_protocol_behaves_as_typings(protocol: typing.Any, checkable: typing.Any) -> None:
    closable, named = _protocols(protocol, checkable)
    assert isinstance(_HasClose(), closable)
    assert not isinstance(object(), closable)
    assert not isinstance(_NoClose(), closable)  # a member set to None is not the method

    class Explicit(closable):  # type: ignore[misc, valid-type]
        def close(self) -> None:
            pass

    assert isinstance(Explicit(), closable)
    assert not isinstance(_HasClose(), Explicit)  # a class that subclasses a protocol is not one
    with pytest.raises(TypeError, match="runtime_checkable"):
        isinstance(_HasClose(), named)
    with pytest.raises(TypeError):
        checkable(Explicit)


def test_cast_and_the_decorators_change_nothing_at_run_time() -> None:
    marker = object()
    assert lean.cast(int, marker) is marker  # type: ignore[call-overload]

    def function() -> int:
        return 1

    assert lean.overload(function) is function
    assert lean.dataclass_transform()(function) is function
