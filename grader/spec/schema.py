"""Validating TOML files with pydantic, with messages that name the table and the key.

The spec files (grader/spec/__init__.py, grader/kinds/functions/spec.py) declare what each table holds as
pydantic models built on `Table`: types, ranges and defaults in one place, unknown keys refused
(a typo such as `max_gpa` would otherwise be silently ignored). `validate` turns pydantic's
errors into lines a host editing a spec can act on:

    [profiles.quick] epochs must be greater than 0, got 0
    [profiles.quick.tiers #2] is missing the required key 'points'
    [profiles.quick] has no key 'max_gpa' (every key and its default: docs/spec.md)
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import ErrorDetails

# Scalars as TOML types them: no "3" for 3, no true for 1. A whole number is a number too.
Str = StrictStr
Bool = StrictBool
Int = StrictInt
Number = Annotated[StrictFloat | StrictInt, AfterValidator(float)]
PositiveInt = Annotated[StrictInt, Field(gt=0)]
PositiveNumber = Annotated[Number, Field(gt=0)]
NonNegativeNumber = Annotated[Number, Field(ge=0)]
Fraction = Annotated[Number, Field(ge=0, le=1)]
Shape = Annotated[tuple[PositiveInt, ...], Field(min_length=1)]


class Table(BaseModel):
    """One TOML table: the keys declared, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)


T = TypeVar("T", bound=BaseModel)

# pydantic's words for a type, in a spec's words.
_KINDS = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _where(loc: tuple[Any, ...]) -> str:
    """('profiles', 'quick', 'tiers', 1) -> '[profiles.quick.tiers #2]'; () -> 'the file'."""
    text = ""
    for part in loc:
        text += f" #{part + 1}" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"[{text}]" if text else "the file"


def _place(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The table and key of an error: without the steps a union (a number is a float or an int)
    and an after-validator add to pydantic's path."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p in ("float", "int") or p.startswith("function-"))))


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "value_error":  # our own validators' messages already name the table and key
        return error["msg"].removeprefix("Value error, ")
    loc = _place(tuple(error["loc"]))
    if kind == "extra_forbidden":
        return f"{_where(loc[:-1])} has no key {loc[-1]!r} (every key and its default: `grade docs spec`)"
    if kind == "missing":
        if len(loc) == 1:
            return f"the table [{loc[0]}] is missing"
        return f"{_where(loc[:-1])} is missing the required key {loc[-1]!r}"
    # The key is the last name in the path, with the list positions after it: "shape #2".
    names = [i for i, part in enumerate(loc) if isinstance(part, str)]
    cut = names[-1] if names else len(loc)
    table = loc[:cut]
    key = " ".join([str(loc[cut])] + [f"#{p + 1}" for p in loc[cut + 1 :]]) if names else ""
    if kind in _KINDS:
        what = f"must be {_KINDS[kind]}"
    else:
        what = error["msg"].replace("Input should be", "must be")
        what = what if what.startswith("must") else f"is wrong: {what[0].lower()}{what[1:]}"
    got = error.get("input")
    shown = "" if isinstance(got, (dict, type(None))) else f", got {got!r}"
    subject = f"{_where(table)} {key}" if key else _where(table)
    return f"{subject} {what}{shown}"


def validate(model: type[T], raw: Any) -> T:
    """`raw` (a parsed TOML table) as `model`; ValueError with one line per problem otherwise."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        # One line per place: a value that fits no member of a union fails each member.
        first: dict[tuple[Any, ...], ErrorDetails] = {}
        for error in err.errors(include_url=False):
            first.setdefault(_place(tuple(error["loc"])), error)
        lines = list(dict.fromkeys(_message(e) for e in first.values()))
        raise ValueError("; ".join(lines)) from None
