"""``npmaudit.records``: every value class of src behaves as the standard library's dataclass would.

Each module of src that declares records is executed a second time with ``@record_class``, ``field``
and ``replace`` taken from :mod:`dataclasses` instead, so every record has a twin: the same
declaration made by the real decorator. Both are built with the same arguments and compared on
what a caller can see: the constructor's signature, ``==``, ``hash``, ``repr``, ordering,
``dataclasses.replace/fields/asdict``, frozenness, default factories, slots and pickling.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import re
import types
from pathlib import Path
from typing import Any

import pytest

import npmaudit
from npmaudit import records
from npmaudit.records import FIELDS_ATTRIBUTE, FrozenRecordError, field, record_class

IMPORT_LINE = re.compile(r"^(\s*)from npmaudit\.records import ([\w, ]+)$", re.MULTILINE)


def record_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(npmaudit.__path__, "npmaudit."):
        spec = importlib.util.find_spec(module.name)
        assert spec is not None and spec.origin is not None
        if IMPORT_LINE.search(Path(spec.origin).read_text(encoding="utf-8")):
            names.append(module.name)
    return names


def dataclass_twin(name: str) -> types.ModuleType:
    """The module executed again, its records made by :func:`dataclasses.dataclass`."""
    module = importlib.import_module(name)
    assert module.__file__ is not None
    source = Path(module.__file__).read_text(encoding="utf-8")

    def from_dataclasses(match: re.Match[str]) -> str:
        names = [part.strip() for part in match.group(2).split(",")]
        imported = ["dataclass as record_class" if part == "record_class" else part for part in names]
        return f"{match.group(1)}from dataclasses import {', '.join(imported)}"

    twin = types.ModuleType(name, module.__doc__)
    twin.__file__ = module.__file__
    exec(compile(IMPORT_LINE.sub(from_dataclasses, source), module.__file__, "exec"), twin.__dict__)
    return twin


def record_pairs() -> list[tuple[type, type]]:
    pairs = []
    for name in record_modules():
        module = importlib.import_module(name)
        twin = dataclass_twin(name)
        for attribute, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == name and FIELDS_ATTRIBUTE in value.__dict__:
                pairs.append((value, getattr(twin, attribute)))
    return pairs


PAIRS = record_pairs()


class Opaque:
    """A value for a field whose type the samples below do not make: equal and hashed by number."""

    def __init__(self, number: int) -> None:
        self.number = number

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.number == self.number

    def __lt__(self, other: Opaque) -> bool:
        return self.number < other.number

    def __hash__(self) -> int:
        return hash(self.number)

    def __repr__(self) -> str:
        return f"Opaque({self.number})"


def sample(annotation: str, variant: int) -> Any:
    """A value of the annotated type (its first member for a union); ``variant`` 0 and 1 differ."""
    first = annotation.split("|")[0].strip()
    outer = first.split("[")[0]
    if outer == "Literal":
        return eval(first[len("Literal[") : -1].split(",")[0])
    made: dict[str, Any] = {
        "str": f"v{variant}",
        "int": variant + 1,
        "float": variant + 0.5,
        "bool": bool(variant),
        "bytes": b"v%d" % variant,
        "Path": Path(f"/v{variant}"),
        "tuple": ("v",) * variant,
        "frozenset": frozenset(("v",) * variant),
        "list": ["v"] * variant,
        "Sequence": ["v"] * variant,
        "dict": {"k": "v"} if variant else {},
        "Mapping": {"k": "v"} if variant else {},
        "None": None,
    }
    return made.get(outer, Opaque(variant))


def arguments(cls: type, variant: int) -> dict[str, Any]:
    """Every required ``__init__`` argument, made from its annotation."""
    signature = inspect.signature(cls.__init__)
    return {
        name: sample(str(parameter.annotation), variant)
        for name, parameter in signature.parameters.items()
        if name != "self" and parameter.default is inspect.Parameter.empty
    }


def build(cls: type, given: dict[str, Any]) -> tuple[Any, str | None]:
    """An instance, or the error the constructor raised (a ``__post_init__`` may refuse samples)."""
    try:
        return cls(**given), None
    except Exception as error:  # the same refusal from both is what is compared
        return None, f"{type(error).__name__}: {error}"


def comparable(value: Any) -> Any:
    """A default or factory across the twins: each module made its own functions and classes."""
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return without_addresses(repr(value))


def without_addresses(text: str) -> str:
    return re.sub(r" at 0x[0-9a-f]+", " at ADDRESS", text)


def canonical(value: Any) -> Any:
    """A field's value across the twins: functions and classes by name, containers by content."""
    if isinstance(value, dict):
        return {canonical(key): canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    if isinstance(value, type | types.FunctionType):
        return value.__qualname__
    if type(value).__eq__ is object.__eq__:  # equal only to itself: a lock, say
        return without_addresses(repr(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__, [canonical(getattr(value, f.name)) for f in dataclasses.fields(value)])
    return value


def outcome(make: Any) -> Any:
    """What ``make()`` answers, across the twins, or the error it raises."""
    try:
        return canonical(make())
    except Exception as error:
        return f"{type(error).__name__}: {without_addresses(str(error))}"


def values(instance: Any) -> list[Any]:
    return [canonical(getattr(instance, f.name)) for f in dataclasses.fields(instance)]


def dataclass_repr(instance: Any, twin: type) -> str:
    """The repr dataclass's rule gives ``instance``: class name and the repr=True fields."""
    shown = ", ".join(f"{f.name}={getattr(instance, f.name)!r}" for f in dataclasses.fields(twin) if f.repr)
    return f"{type(instance).__qualname__}({shown})"


def field_table(cls: type) -> list[tuple[Any, ...]]:
    return [
        (f.name, f.type, comparable(f.default), comparable(f.default_factory), f.init, f.repr, f.hash, f.compare)
        for f in dataclasses.fields(cls)
    ]


def hash_or_refusal(value: Any, fields: tuple[dataclasses.Field[Any], ...]) -> int | str:
    """``hash(value)``, checked against dataclass's rule: the hash of the hashed fields' tuple."""
    hashed = tuple(getattr(value, f.name) for f in fields if (f.compare if f.hash is None else f.hash))
    try:
        answer = hash(value)
    except TypeError as error:
        with pytest.raises(TypeError):
            hash(hashed)
        return str(error)
    assert answer == hash(hashed)
    return answer


IDS = [f"{record.__module__}.{record.__qualname__}" for record, _ in PAIRS]


def test_every_record_of_src_has_a_twin() -> None:
    # Every class of src that a module declares with @record_class: no dataclass is left, and the
    # walk found them (the offline audit alone imports 38).
    assert len(PAIRS) > 100
    assert all(dataclasses.is_dataclass(twin) for _, twin in PAIRS)


def test_src_declares_values_one_way() -> None:
    """No module of src builds a dataclass: every value class is a record (one way to declare values,
    and none that would bring dataclasses and inspect back into an offline audit)."""
    src = Path(npmaudit.__file__).parent
    users = [
        path.relative_to(src).as_posix()
        for path in sorted(src.rglob("*.py"))
        if re.search(r"^\s*(from dataclasses import|import dataclasses)", path.read_text(encoding="utf-8"), re.M)
    ]
    assert users == ["records.py"]  # its lazy __dataclass_fields__, and replace for type checkers


@pytest.mark.parametrize(("record", "twin"), PAIRS, ids=IDS)
def test_a_record_is_declared_as_its_dataclass_twin(record: type, twin: type) -> None:
    assert str(inspect.signature(record.__init__)) == str(inspect.signature(twin.__init__))
    assert record.__init__.__annotations__ == twin.__init__.__annotations__
    assert field_table(record) == field_table(twin)
    assert dataclasses.is_dataclass(record)
    assert repr(record.__dataclass_params__) == repr(twin.__dataclass_params__)  # type: ignore[attr-defined]
    assert record.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    assert getattr(record, "__slots__", None) == getattr(twin, "__slots__", None)
    assert (record.__hash__ is None) == (twin.__hash__ is None)
    for name in ("__eq__", "__hash__", "__lt__", "__repr__", "__setattr__", "__getstate__"):
        assert (name in record.__dict__) == (name in twin.__dict__), name
    for one in dataclasses.fields(twin):  # a default stays a class attribute, a factory does not
        if not getattr(twin, "__slots__", None):
            assert comparable(getattr(record, one.name, "absent")) == comparable(getattr(twin, one.name, "absent"))


@pytest.mark.parametrize(("record", "twin"), PAIRS, ids=IDS)
def test_a_record_behaves_as_its_dataclass_twin(record: type, twin: type) -> None:
    given = arguments(record, 0)
    assert given == arguments(twin, 0)
    first, refused = build(record, given)
    assert build(twin, given)[1] == refused
    if refused is not None:
        return  # both constructors refused the samples in the same words
    twin_first, _ = build(twin, given)
    same, _ = build(record, dict(given))
    twin_same, _ = build(twin, dict(given))
    assert values(first) == values(twin_first)
    assert repr(first) == dataclass_repr(first, twin)
    assert repr(twin_first) == dataclass_repr(twin_first, twin)  # the rule is dataclass's own
    assert (first == same) == (twin_first == twin_same)
    assert (first != same) == (twin_first != twin_same)
    made_hash = twin.__dict__.get("__hash__")
    if made_hash is not None and made_hash.__code__.co_filename == "<string>":  # dataclass wrote it
        twin_hash = hash_or_refusal(twin_first, dataclasses.fields(twin))
        assert type(hash_or_refusal(first, dataclasses.fields(twin))) is type(twin_hash)
    assert outcome(lambda: dataclasses.asdict(first)) == outcome(lambda: dataclasses.asdict(twin_first))

    # Each argument changed alone: equality, ordering and replace answer as the twin's.
    for name in given:
        changed = {**given, name: sample(str(inspect.signature(record.__init__).parameters[name].annotation), 1)}
        other, other_refused = build(record, changed)
        twin_other, twin_refused = build(twin, changed)
        assert other_refused == twin_refused
        if other is None:
            continue
        assert (first == other) == (twin_first == twin_other), name
        if twin.__dataclass_params__.order:  # type: ignore[attr-defined]
            assert (first < other) == (twin_first < twin_other), name
            assert (first >= other) == (twin_first >= twin_other), name
        replaced = dataclasses.replace(first, **{name: changed[name]})
        assert values(replaced) == values(dataclasses.replace(twin_first, **{name: changed[name]}))
        assert repr(replaced) == dataclass_repr(replaced, twin)
        assert values(records.replace(first, **{name: changed[name]})) == values(replaced)

    # Frozenness: a field cannot be assigned when the twin's cannot.
    name = dataclasses.fields(twin)[0].name
    if twin.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        with pytest.raises(FrozenRecordError, match=f"cannot assign to field '{name}'"):
            setattr(first, name, getattr(same, name))
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(twin_first, name, getattr(twin_same, name))
    else:
        setattr(first, name, getattr(same, name))

    # A default factory makes a new value per instance, as the twin's does.
    for one in dataclasses.fields(twin):
        if one.default_factory is not dataclasses.MISSING:
            assert (getattr(first, one.name) is getattr(same, one.name)) == (
                getattr(twin_first, one.name) is getattr(twin_same, one.name)
            ), one.name

    # Pickling (multiprocessing sends some records): the copy holds the same values; a record that
    # cannot be pickled holds a value that cannot (the twin, made again here, has no importable name).
    try:
        copied = pickle.loads(pickle.dumps(first))
    except (pickle.PicklingError, TypeError) as error:
        with pytest.raises(type(error)):
            pickle.dumps([getattr(first, f.name) for f in dataclasses.fields(twin)])
    else:
        assert values(copied) == values(first)
        if twin.__dataclass_params__.eq:  # type: ignore[attr-defined]
            assert copied == first


# -- the first instances: built without compiling __init__ ----------------------------------------


def _generated_init(record: type) -> bool:
    """Whether ``record``'s ``__init__`` is the one record_class writes (not the class's own)."""
    init = record.__dict__.get("__init__")
    return (
        isinstance(init, records._LazyInit) or getattr(getattr(init, "__code__", None), "co_filename", "") == "<string>"
    )


def _init_calls(
    record: type,
) -> tuple[list[tuple[tuple[Any, ...], dict[str, Any]]], list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    """Calls that bind (by name, by position, with every optional argument too) and calls that do
    not (a required argument missing, an unknown name, a name also given by position, one
    argument too many)."""
    parameters = [p for name, p in inspect.signature(record.__init__).parameters.items() if name != "self"]
    required = {p.name: sample(str(p.annotation), 0) for p in parameters if p.default is inspect.Parameter.empty}
    every = {p.name: sample(str(p.annotation), 1) for p in parameters}
    binding = [
        ((), dict(required)),
        (tuple(required.values()), {}),
        ((), dict(every)),
        (tuple(every.values()), {}),
    ]
    refused: list[tuple[tuple[Any, ...], dict[str, Any]]] = [((), {**every, "not_a_field": 1})]
    refused.append(((*every.values(), "one too many"), {}))
    if required:
        first = next(iter(required))
        refused.append(((), {name: value for name, value in required.items() if name != first}))
        refused.append(((required[first],), dict(required)))
    return binding, refused


def _built(init: Any, record: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    instance = object.__new__(record)
    try:
        init(instance, *args, **kwargs)
    except Exception as error:
        return f"{type(error).__name__}: {without_addresses(str(error))}"
    return [canonical(getattr(instance, f.name, "unset")) for f in dataclasses.fields(record)]


@pytest.mark.parametrize(("record", "twin"), PAIRS, ids=IDS)
def test_an_interpreted_init_builds_what_the_compiled_one_builds(record: type, twin: type) -> None:
    if not _generated_init(record):
        return  # the class wrote its own __init__
    params = record.__dataclass_params__  # type: ignore[attr-defined]
    slots = "__slots__" in record.__dict__
    compiled = records._LazyInit(
        record, getattr(record, FIELDS_ATTRIBUTE), frozen=params.frozen, slots=slots
    ).compiled()
    fresh = records._LazyInit(record, getattr(record, FIELDS_ATTRIBUTE), frozen=params.frozen, slots=slots)
    binding, refused = _init_calls(record)

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a call that binds was handed to the compiled __init__")

    fresh.compiled = never  # type: ignore[method-assign]
    for args, kwargs in binding:
        assert _built(fresh.interpret, record, args, kwargs) == _built(compiled, record, args, kwargs), (args, kwargs)
    del fresh.compiled
    for args, kwargs in refused:
        answer = _built(fresh.interpret, record, args, kwargs)
        assert isinstance(answer, str) and answer == _built(compiled, record, args, kwargs), (args, kwargs)


def test_a_class_compiles_its_init_after_its_first_instances() -> None:
    @record_class(frozen=True, slots=True)
    class Twice:
        name: str
        tags: list[str] = field(default_factory=list)

    built = [Twice(f"n{number}") for number in range(records.COMPILE_AFTER)]
    assert isinstance(Twice.__dict__["__init__"], records._LazyInit)  # all of them interpreted
    assert [one.name for one in built] == [f"n{number}" for number in range(records.COMPILE_AFTER)]
    assert len({id(one.tags) for one in built}) == len(built)  # a new list from the factory each time
    Twice("next")
    assert Twice.__dict__["__init__"].__qualname__.endswith("Twice.__init__")  # compiled and in place
    with pytest.raises(TypeError, match=r"__init__\(\) missing 1 required positional argument: 'name'"):
        Twice()  # type: ignore[call-arg]


# -- the decorator's own rules, on small declarations ----------------------------------------------


@record_class(frozen=True, slots=True, order=True)
class Pinned:
    name: str
    tags: tuple[str, ...] = ()
    seen: list[str] = field(default_factory=list, compare=False)


@record_class
class Counter:
    count: int = 0
    note: str = field(default="", repr=False)


def test_a_frozen_slotted_record_pickles_and_refuses_assignment() -> None:
    pinned = Pinned("a", ("x",))
    assert pickle.loads(pickle.dumps(pinned)) == pinned
    assert not hasattr(pinned, "__dict__")
    with pytest.raises(AttributeError):  # FrozenRecordError is one: callers catching it keep working
        pinned.name = "b"  # type: ignore[misc]
    with pytest.raises(FrozenRecordError, match="cannot delete field 'name'"):
        del pinned.name  # type: ignore[misc]
    assert sorted([Pinned("b"), Pinned("a", ("y",)), Pinned("a")]) == [Pinned("a"), Pinned("a", ("y",)), Pinned("b")]
    assert Pinned("a", seen=["x"]) == Pinned("a")  # compare=False: left out of == and the hash
    assert hash(Pinned("a", seen=["x"])) == hash(("a", ()))


def test_a_plain_record_is_mutable_and_unhashable() -> None:
    counter = Counter()
    counter.count += 1
    assert counter == Counter(1) and counter != Counter(2)
    assert repr(counter) == "Counter(count=1)"
    assert Counter.__hash__ is None
    assert Counter(1).__eq__(1) is NotImplemented


def test_declarations_dataclass_refuses_are_refused() -> None:
    with pytest.raises(ValueError, match="mutable default <class 'list'> for field items"):

        @record_class
        class Shared:
            items: list[str] = []  # noqa: RUF012 - the refused declaration

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record_class
        class Misordered:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="field text is declared with init=False"):
        records.replace(Labelled(1), text="2")
    assert records.replace(Labelled(1), number=2).text == "#2"  # __post_init__ ran for the copy


@record_class(frozen=True)
class Labelled:
    number: int
    text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", f"#{self.number}")


def test_a_record_that_holds_itself_prints_dots() -> None:
    counter = Counter()
    counter.count = counter  # type: ignore[assignment]
    assert repr(counter) == "Counter(count=...)"


def test_making_records_reads_no_dataclasses_module() -> None:
    """The standard library's Field objects are made only when asked for."""

    @record_class(frozen=True)
    class Fresh:
        value: int

    assert "__dataclass_fields__" not in vars(Fresh) or isinstance(
        vars(Fresh)["__dataclass_fields__"], records._StandardLibraryView
    )
    assert [f.name for f in dataclasses.fields(Fresh(1))] == ["value"]
    assert isinstance(vars(Fresh)["__dataclass_fields__"], dict)  # built once, then kept
