"""The names of :mod:`typing` that run at import time, without importing typing (issue 17).

Importing :mod:`typing` costs about 2 ms, a fiftieth of an offline audit, and every other use of it
in this package is an annotation (never evaluated: every module has ``from __future__ import
annotations``), imported under ``TYPE_CHECKING``. What is left runs when a module is imported:

- ``NamedTuple`` as a base class: the class is made by :func:`collections.namedtuple` from the
  annotated fields and their defaults, with the body's methods and docstring, as typing makes it;
- ``Protocol`` as a base class, and ``runtime_checkable``: ``isinstance`` against a runtime-checkable
  protocol asks whether the object has every member the protocol declares (typing's test for a
  protocol whose members are all methods), and against any other protocol is a TypeError, as in typing;
- ``cast``: returns its value;
- ``overload`` and ``dataclass_transform``: decorators for the type checker, which return what they
  decorate (the implementation after the overloads is what runs, as with typing's).

Type checkers read typing's own names (the ``TYPE_CHECKING`` branch), so the declarations are
checked exactly as before.
"""

from __future__ import annotations

# A constant of this module's own: mypy skips the else branch (not so for an imported one).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
    from typing import Protocol as Protocol
    from typing import cast as cast
    from typing import dataclass_transform as dataclass_transform
    from typing import overload as overload
    from typing import runtime_checkable as runtime_checkable
else:
    from collections import namedtuple

    # What a class body holds that is not a member of the tuple class it describes.
    _BODY_ONLY = frozenset({"__module__", "__qualname__", "__annotations__", "__orig_bases__", "__slots__"})

    class _NamedTupleMaker(type):
        """Makes ``class X(NamedTuple): ...`` into a named tuple class, as typing's NamedTupleMeta."""

        def __new__(mcs, name, bases, namespace):
            if namespace.get("_named_tuple_base"):
                return super().__new__(mcs, name, bases, namespace)
            annotations = namespace.get("__annotations__", {})
            defaults = []
            for field_name in annotations:
                if field_name in namespace:
                    defaults.append(namespace[field_name])
                elif defaults:
                    raise TypeError(f"Non-default namedtuple field {field_name} cannot follow default field")
            made = namedtuple(name, list(annotations), defaults=defaults, module=namespace["__module__"])
            made.__annotations__ = dict(annotations)
            made.__qualname__ = namespace.get("__qualname__", name)
            for key, value in namespace.items():
                if key in annotations or key in _BODY_ONLY:
                    continue
                if key in made._fields:
                    raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
                setattr(made, key, value)
            return made

    class NamedTuple(metaclass=_NamedTupleMaker):
        _named_tuple_base = True

    class _ProtocolMaker(type):
        """Protocol classes: ``isinstance`` tests the declared members of a runtime-checkable one."""

        def __new__(mcs, name, bases, namespace):
            cls = super().__new__(mcs, name, bases, namespace)
            # A protocol names Protocol among its bases; a class that subclasses a protocol is not one.
            cls._is_protocol = any(base.__dict__.get("_protocol_base", False) for base in bases)
            members = set()
            for base in cls.__mro__:
                if base.__dict__.get("_is_protocol", False):
                    members.update(
                        key
                        for key in (*base.__dict__, *base.__dict__.get("__annotations__", {}))  # noqa: RUF063
                        if not key.startswith("_")
                    )
            cls._protocol_members = frozenset(members)
            cls._runtime_checkable = False
            return cls

        def __instancecheck__(cls, instance):
            if not cls.__dict__.get("_is_protocol", False):
                return super().__instancecheck__(instance)
            if not cls.__dict__.get("_runtime_checkable", False):
                raise TypeError("Instance and class checks can only be used with @runtime_checkable protocols")
            if super().__instancecheck__(instance):
                return True
            return all(getattr(instance, member, None) is not None for member in cls._protocol_members)

    class Protocol(metaclass=_ProtocolMaker):
        _protocol_base = True
        __slots__ = ()

    def runtime_checkable(cls):
        """typing's decorator: ``isinstance`` may then be asked of the protocol."""
        if not cls.__dict__.get("_is_protocol", False):
            raise TypeError(f"@runtime_checkable can be only applied to protocol classes, got {cls!r}")
        cls._runtime_checkable = True
        return cls

    def cast(kind, value):
        """typing's cast: the value, unchanged (the type is the checker's)."""
        return value

    def overload(function):
        """typing's overload: the declaration is the checker's; the implementation after it runs."""
        return function

    def dataclass_transform(**options):
        """typing's dataclass_transform: marks the decorator for type checkers, changes nothing."""

        def mark(decorator):
            decorator.__dataclass_transform__ = options
            return decorator

        return mark
