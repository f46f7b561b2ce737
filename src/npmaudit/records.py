"""Value classes declared as dataclasses are, built without importing :mod:`dataclasses` (issue 17).

``@record_class`` takes the same declaration as ``@dataclass`` (annotated fields, :func:`field` for
defaults, factories and the compare/repr/hash flags; ``frozen``, ``eq``, ``order``, ``slots``) and
gives the class the same ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ordering, frozenness,
``__match_args__`` and, for slotted classes, ``__slots__`` with pickling. What it saves: the standard
library's decorator imports :mod:`inspect` (and ast, dis, tokenize...) and compiles four to six
functions per class, which is a fifth of a fresh offline audit. Here only ``__init__`` is compiled,
in one ``exec`` per class on its first use; comparisons, hashing and repr are closures over
:func:`operator.attrgetter` (an audit calls them a few hundred times, a hundred thousand packages a
few thousand: compiling them would cost more than it saves).

The standard library's functions keep working: ``__dataclass_fields__`` and ``__dataclass_params__``
are built on first access, by letting :func:`dataclasses.dataclass` read the same declaration, so
``dataclasses.replace``, ``fields``, ``asdict`` and ``is_dataclass`` answer as for a dataclass (and
only a caller that uses them imports :mod:`dataclasses`). Type checkers read ``@record_class`` through
``typing.dataclass_transform``. :func:`replace` is ``dataclasses.replace`` without that import.
"""

from __future__ import annotations

import operator
import sys
from _thread import get_ident
from collections.abc import Callable
from functools import partial
from operator import attrgetter
from types import MemberDescriptorType

# A constant of this module's own, not imported: mypy then reads only the first branch, whose
# names are typing's own (the runtime stand-ins reached through a re-export lose the
# dataclass_transform of the overloads for mypy).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform, overload

    T = TypeVar("T")
else:
    from npmaudit.runtime_typing import dataclass_transform, overload

# The attribute that marks a record class and lists its fields (its bases' first, as dataclass does).
FIELDS_ATTRIBUTE = "__record_fields__"


class FrozenRecordError(AttributeError):
    """An assignment to, or deletion of, a field of a frozen record (dataclass's FrozenInstanceError)."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


class _Factory:
    """The ``__init__`` default of a field with a factory: the factory runs when it is not given."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


MISSING: Any = _Missing()
_FACTORY: Any = _Factory()

# Defaults that would be shared by every instance: refused, as dataclass refuses them.
_MUTABLE_DEFAULTS = (list, dict, set)


class RecordField:
    """One field's declaration: what :func:`field` returns, completed with name and type by ``@record_class``."""

    __slots__ = ("compare", "default", "default_factory", "hash", "init", "name", "repr", "type")

    def __init__(
        self,
        default: Any,
        default_factory: Callable[[], Any] | Any,
        init: bool,
        repr: bool,
        hash: bool | None,
        compare: bool,
    ) -> None:
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.hash = hash
        self.compare = compare

    def __repr__(self) -> str:
        return (
            f"RecordField(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r}, "
            f"init={self.init}, repr={self.repr}, hash={self.hash}, compare={self.compare})"
        )

    @property
    def hashed(self) -> bool:
        return self.compare if self.hash is None else self.hash


@overload
def field(
    *,
    default: T,
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
) -> T: ...
@overload
def field(  # noqa: F811  (an overload: ruff reads the runtime branch of the import)
    *,
    default_factory: Callable[[], T],
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
) -> T: ...
@overload
def field(  # noqa: F811
    *,
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
) -> Any: ...
def field(  # noqa: F811
    *,
    default: Any = MISSING,
    default_factory: Any = MISSING,
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
) -> Any:
    """A field's default, default factory and flags, as :func:`dataclasses.field` takes them."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return RecordField(default, default_factory, init, repr, hash, compare)


@overload
@dataclass_transform(field_specifiers=(field,))
def record_class(cls: type[T], /) -> type[T]: ...
@overload
def record_class(  # noqa: F811
    *, frozen: bool = False, eq: bool = True, order: bool = False, slots: bool = False
) -> Callable[[type[T]], type[T]]: ...
def record_class(  # noqa: F811
    cls: type[T] | None = None, /, *, frozen: bool = False, eq: bool = True, order: bool = False, slots: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """``@dataclass`` with the same options, built cheaply (see the module's docstring)."""
    if order and not eq:
        raise ValueError("eq must be true if order is true")

    def build(cls: type[T]) -> type[T]:
        return _build(cls, frozen=frozen, eq=eq, order=order, slots=slots)

    return build if cls is None else build(cls)


if TYPE_CHECKING:
    # The type checker checks the changes against the fields, as for any dataclass.
    from dataclasses import replace as replace
else:

    def replace(obj, /, **changes):
        """:func:`dataclasses.replace` for records: a copy with ``changes``, made by the constructor."""
        for one in getattr(obj, FIELDS_ATTRIBUTE):
            if not one.init:
                if one.name in changes:
                    raise ValueError(
                        f"field {one.name} is declared with init=False, it cannot be specified with replace()"
                    )
                continue
            if one.name not in changes:
                changes[one.name] = getattr(obj, one.name)
        return obj.__class__(**changes)


def _is_class_var(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    # An annotation object is typing's ClassVar only where typing was imported (not by this module).
    typing = sys.modules.get("typing")
    class_var = getattr(typing, "ClassVar", None)
    return class_var is not None and (annotation is class_var or getattr(annotation, "__origin__", None) is class_var)


def _declared_fields(cls: type) -> dict[str, RecordField]:
    """The bases' fields, then the class's own: its annotations, in order, with their defaults."""
    fields: dict[str, RecordField] = {}
    for base in reversed(cls.__mro__[1:]):
        for inherited in base.__dict__.get(FIELDS_ATTRIBUTE, ()):
            fields[inherited.name] = inherited
    # Not inspect.get_annotations: importing inspect is what this module avoids.
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if _is_class_var(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        declared = value if isinstance(value, RecordField) else RecordField(value, MISSING, True, True, None, True)
        declared.name = name
        declared.type = annotation
        if isinstance(declared.default, _MUTABLE_DEFAULTS):
            raise ValueError(
                f"mutable default {type(declared.default)} for field {name} is not allowed: use default_factory"
            )
        if isinstance(value, RecordField):
            # As dataclass leaves it: the class attribute is the default, or absent.
            if declared.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, declared.default)
        fields[name] = declared
    for name, value in cls.__dict__.items():
        if isinstance(value, RecordField) and name not in fields:
            raise TypeError(f"{name!r} is a field but has no type annotation")
    return fields


def _build(cls: type[T], *, frozen: bool, eq: bool, order: bool, slots: bool) -> type[T]:
    fields = tuple(_declared_fields(cls).values())
    if slots:
        cls = _slotted(cls, fields)
    _put(cls, FIELDS_ATTRIBUTE, fields)
    options = (frozen, eq, order)
    _put(cls, "__dataclass_fields__", _StandardLibraryView(cls, "__dataclass_fields__", options))
    _put(cls, "__dataclass_params__", _StandardLibraryView(cls, "__dataclass_params__", options))

    own = cls.__dict__
    _set_new(cls, "__init__", _LazyInit(cls, fields, frozen=frozen, slots=slots))
    _set_new(cls, "__repr__", _make_repr(cls, tuple(f.name for f in fields if f.repr)))
    compared = _tuple_of(tuple(f.name for f in fields if f.compare))
    if eq:
        _set_new(cls, "__eq__", _make_comparison(cls, "__eq__", compared, operator.eq))
    if order:
        for name, compare in (
            ("__lt__", operator.lt),
            ("__le__", operator.le),
            ("__gt__", operator.gt),
            ("__ge__", operator.ge),
        ):
            if name in own:
                raise TypeError(
                    f"Cannot overwrite attribute {name} in class {cls.__name__}: use functools.total_ordering"
                )
            _put(cls, name, _make_comparison(cls, name, compared, compare))
    if eq:
        # dataclass's table: an explicit __hash__ stays; a class body that defines __eq__ alone has
        # __hash__ = None put there by Python, which is not explicit.
        class_hash = own.get("__hash__", MISSING)
        explicit_hash = not (class_hash is MISSING or (class_hash is None and "__eq__" in own))
        if not explicit_hash:
            hashed = _tuple_of(tuple(f.name for f in fields if f.hashed))
            _put(cls, "__hash__", _make_hash(cls, hashed) if frozen else None)
    if frozen:
        names = frozenset(f.name for f in fields)
        for name in ("__setattr__", "__delattr__"):
            if name in own:
                raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
        _put(cls, "__setattr__", _make_frozen_setattr(cls, names))
        _put(cls, "__delattr__", _make_frozen_delattr(cls, names))
    _set_new(cls, "__match_args__", tuple(f.name for f in fields if f.init))
    if slots and frozen:
        _set_new(cls, "__getstate__", _make_getstate(fields))
        _set_new(cls, "__setstate__", _make_setstate(fields))
    return cls


def _put(cls: type, name: str, value: Any) -> None:
    type.__setattr__(cls, name, value)


def _set_new(cls: type, name: str, value: Any) -> None:
    """Sets what the class body did not define itself, as dataclass does."""
    if name not in cls.__dict__:
        if callable(value) and hasattr(value, "__qualname__"):
            value.__qualname__ = f"{cls.__qualname__}.{name}"
        _put(cls, name, value)


def _slotted(cls: type[T], fields: tuple[RecordField, ...]) -> type[T]:
    """The class made again with ``__slots__`` for its fields (slots exist only from class creation)."""
    namespace = dict(cls.__dict__)
    inherited: set[str] = set()
    for base in cls.__mro__[1:-1]:
        inherited.update(base.__dict__.get("__slots__", ()))
    names = tuple(f.name for f in fields)
    namespace["__slots__"] = tuple(name for name in names if name not in inherited)
    for name in names:
        namespace.pop(name, None)  # the slot's descriptor takes the name
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    metaclass: type[type] = type(cls)
    made: type[T] = metaclass(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    return made


class _StandardLibraryView:
    """``__dataclass_fields__`` / ``__dataclass_params__`` of a record, made on first access.

    The standard library's decorator reads the same declaration on a throwaway class (so the
    ``Field`` objects are its own, down to the private markers ``dataclasses.fields`` filters on)
    and both answers replace this descriptor on the record class."""

    def __init__(self, owner: type, name: str, options: tuple[bool, bool, bool]) -> None:
        self.owner = owner
        self.name = name
        self.options = options

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        import dataclasses

        cls = self.owner
        frozen, eq, order = self.options
        namespace: dict[str, Any] = {
            "__annotations__": {},
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
        }
        for one in getattr(cls, FIELDS_ATTRIBUTE):
            namespace["__annotations__"][one.name] = one.type
            given = {"default": one.default, "default_factory": one.default_factory}
            namespace[one.name] = dataclasses.field(
                **{name: value for name, value in given.items() if value is not MISSING},
                init=one.init,
                repr=one.repr,
                hash=one.hash,
                compare=one.compare,
            )
        shadow: type = dataclasses.dataclass(frozen=frozen, eq=eq, order=order)(type(cls.__name__, (), namespace))
        for name in ("__dataclass_fields__", "__dataclass_params__"):
            type.__setattr__(cls, name, getattr(shadow, name))
        return getattr(cls, self.name)


COMPILE_AFTER = 8
"""Instances a record class builds through :meth:`_LazyInit.interpret` before its ``__init__`` is
compiled. Most classes of a run build one or two (its settings, its outcome, its summary), and a
compiled ``__init__`` costs 50 to 450 µs to make (2.4 of an offline audit's 3.4 ms went to classes
built fewer than ten times); the few built by the thousand (nodes, edges, versions) are compiled
after these first ones, and each of their calls is then the fast one."""


class _LazyInit:
    """``__init__`` compiled from source, as dataclass writes it (a loop over the fields would be
    slower per call), but only once the class has been instantiated :data:`COMPILE_AFTER` times
    (until then :meth:`interpret` does the same work from the fields) or ``cls.__init__`` is read;
    the function then takes this descriptor's place. An offline audit never builds half its record
    classes and builds most of the others once or twice, and compiling is most of the cost of
    making one. The declaration is checked when the class is made, the source written on first use."""

    def __init__(self, cls: type, fields: tuple[RecordField, ...], *, frozen: bool, slots: bool) -> None:
        self.owner = cls
        self.fields = fields
        self.frozen = frozen
        self.slots = slots
        self.calls = 0
        self.post_init = hasattr(cls, "__post_init__")
        # The declaration is checked now, as dataclass checks it; the rest waits for a first use
        # (_prepare): most record classes of a run are never built.
        seen_default = False
        for one in fields:
            if not one.init:
                continue
            if one.default_factory is not MISSING or one.default is not MISSING:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {one.name!r} follows default argument")
        self.source = ""

    def _prepare(self) -> None:
        """Write the compiled ``__init__``'s source and the steps :meth:`interpret` follows."""
        if self.source:
            return
        fields, frozen, slots = self.fields, self.frozen, self.slots
        self.scope: dict[str, Any] = {"_FACTORY": _FACTORY, "_object_setattr": object.__setattr__}
        self.annotations = {f.name: f.type for f in fields if f.init} | {"return": None}
        # What interpret() needs: the parameters (name, default or MISSING, factory or MISSING), and
        # each assignment in the compiled body's order: (name, parameter index or -1, factory or
        # MISSING, default, setter). A setter of None means plain attribute assignment.
        self.parameters: list[tuple[str, Any, Any]] = []
        self.steps: list[tuple[str, int, Any, Any, Callable[[Any, Any], None] | None]] = []
        parameters: list[str] = []
        body: list[str] = []
        for index, one in enumerate(fields):
            default_name = f"_default_{index}"
            position = len(self.parameters) if one.init else -1
            factory: Any = MISSING
            default: Any = MISSING
            if one.init:
                if one.default_factory is not MISSING:
                    self.scope[default_name] = factory = one.default_factory
                    parameters.append(f"{one.name}=_FACTORY")
                    value = f"{default_name}() if {one.name} is _FACTORY else {one.name}"
                elif one.default is not MISSING:
                    self.scope[default_name] = default = one.default
                    parameters.append(f"{one.name}={default_name}")
                    value = one.name
                else:
                    parameters.append(one.name)
                    value = one.name
                self.parameters.append((one.name, default, factory))
            elif one.default_factory is not MISSING:
                self.scope[default_name] = factory = one.default_factory
                value = f"{default_name}()"
            elif slots and one.default is not MISSING:
                self.scope[default_name] = default = one.default
                value = default_name
            else:
                continue  # read from the class attribute, or set by __post_init__
            slot = _slot_of(self.owner, one.name) if frozen else None
            setter: Callable[[Any, Any], None] | None
            if slot is not None:  # the slot's own setter: a third cheaper than object.__setattr__
                self.scope[f"_set_{index}"] = setter = slot.__set__
                body.append(f"    _set_{index}(self, {value})")
            elif frozen:
                setter = _attribute_setter(one.name)
                body.append(f"    _object_setattr(self, {one.name!r}, {value})")
            else:
                setter = None
                body.append(f"    self.{one.name} = {value}")
            self.steps.append((one.name, position, factory, default, setter))
        if self.post_init:
            body.append("    self.__post_init__()")
        self.source = f"def __init__(self, {', '.join(parameters)}):\n" + ("\n".join(body) or "    pass") + "\n"

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is not None and self.calls < COMPILE_AFTER:
            self.calls += 1
            return partial(self.interpret, instance)
        init = self.compiled()
        return init if instance is None else init.__get__(instance, owner)

    def compiled(self) -> Callable[..., None]:
        """The compiled ``__init__``, put in this descriptor's place on the class."""
        self._prepare()
        exec(self.source, self.scope)  # the source is made of the class's own field names
        init: Callable[..., None] = self.scope["__init__"]
        init.__annotations__ = self.annotations
        init.__qualname__ = f"{self.owner.__qualname__}.__init__"
        type.__setattr__(self.owner, "__init__", init)
        return init

    def interpret(self, instance: Any, *args: Any, **kwargs: Any) -> None:
        """What the compiled ``__init__`` does for a call that binds: every other call (too many
        arguments, an unknown or repeated name, a missing one) is left to the compiled function,
        so that its error is Python's own, word for word."""
        self._prepare()
        parameters = self.parameters
        if len(args) > len(parameters):
            return self.compiled()(instance, *args, **kwargs)
        values = list(args)
        used = 0
        for name, default, factory in parameters[len(args) :]:
            if name in kwargs:
                values.append(kwargs[name])
                used += 1
            elif factory is not MISSING:
                values.append(_FACTORY)
            elif default is not MISSING:
                values.append(default)
            else:
                return self.compiled()(instance, *args, **kwargs)
        if used != len(kwargs):  # a name unknown, or also given by position
            return self.compiled()(instance, *args, **kwargs)
        for name, position, factory, default, setter in self.steps:
            if position < 0:
                value = factory() if factory is not MISSING else default
            else:
                value = values[position]
                if factory is not MISSING and value is _FACTORY:
                    value = factory()
            if setter is None:
                setattr(instance, name, value)
            else:
                setter(instance, value)
        if self.post_init:
            instance.__post_init__()
        return None


def _attribute_setter(name: str) -> Callable[[Any, Any], None]:
    """``object.__setattr__(instance, name, value)`` as a function of (instance, value)."""

    def set_attribute(instance: Any, value: Any) -> None:
        object.__setattr__(instance, name, value)

    return set_attribute


def _slot_of(cls: type, name: str) -> MemberDescriptorType | None:
    """The slot that stores ``name`` on ``cls``'s instances, if a slot does."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            found = klass.__dict__[name]
            return found if isinstance(found, MemberDescriptorType) else None
    return None


# reprlib.recursive_repr's guard: a record that holds itself prints "..." there.
_repr_running: set[tuple[int, int]] = set()


def _make_repr(cls: type, names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        key = (id(self), get_ident())
        if key in _repr_running:
            return "..."
        _repr_running.add(key)
        try:
            shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        finally:
            _repr_running.discard(key)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of ``names`` as a tuple: dataclass compares and hashes such tuples, even of one."""
    if len(names) >= 2:
        return attrgetter(*names)
    if len(names) == 1:
        get_one = attrgetter(names[0])
        return lambda value: (get_one(value),)
    return lambda value: ()


def _make_comparison(
    cls: type,
    name: str,
    values: Callable[[Any], tuple[Any, ...]],
    compare: Callable[[tuple[Any, ...], tuple[Any, ...]], bool],
) -> Callable[[Any, Any], Any]:
    def comparison(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return compare(values(self), values(other))
        return NotImplemented

    comparison.__name__ = name
    comparison.__qualname__ = f"{cls.__qualname__}.{name}"
    return comparison


def _make_hash(cls: type, values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    __hash__.__qualname__ = f"{cls.__qualname__}.__hash__"
    return __hash__


def _make_frozen_setattr(cls: type[Any], names: frozenset[str]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenRecordError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    __setattr__.__qualname__ = f"{cls.__qualname__}.__setattr__"
    return __setattr__


def _make_frozen_delattr(cls: type[Any], names: frozenset[str]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenRecordError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    __delattr__.__qualname__ = f"{cls.__qualname__}.__delattr__"
    return __delattr__


def _make_getstate(fields: tuple[RecordField, ...]) -> Callable[[Any], list[Any]]:
    names = tuple(f.name for f in fields)

    def __getstate__(self: Any) -> list[Any]:
        return [getattr(self, name) for name in names]

    return __getstate__


def _make_setstate(fields: tuple[RecordField, ...]) -> Callable[[Any, list[Any]], None]:
    """Pickle restores a frozen slotted record through here: its own __setattr__ refuses."""
    names = tuple(f.name for f in fields)

    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=False):
            object.__setattr__(self, name, value)

    return __setstate__
