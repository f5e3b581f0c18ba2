"""Secrets tracked through expressions (taint tracking).

A secret variable reaches expressions as a `Tainted` string: a `str` holding the real value
that remembers it came from a secret. Whatever the sandbox lets an expression do with it
(filters, str methods, operators, `~`, slicing, loops, macros, the template's own output)
returns marked values too: `OwlGridSandbox` routes calls, operators and item access through
`propagate`, the filters are wrapped by `tainting_filter`, and every join goes through `join`.
So a transformed copy (`| lower`, `| reverse`, a slice, a concatenation, `| b64encode`) is as
secret as the value itself.

A marked string knows how it was built (`pieces`): the plain text around a secret stays
readable in what is stored and shown, and only the secret parts are hidden. The runner turns
marked values into their stored form and back (runner/sealing.py).

Not tracked: numbers and booleans computed from a secret (its length, a comparison). The
runner's masking by value, in every encoding, stays behind this as a second wall.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from markupsafe import Markup

# A piece of a marked string: plain text, or a secret part as (value, name); `name` is the
# secret variable's name when the part is that variable's value used as it is, else None.
Piece = str | tuple[str, str | None]


class Tainted(str):
    """A string derived from a secret."""

    pieces: tuple[Piece, ...]

    def __new__(cls, value: str, pieces: tuple[Piece, ...] | None = None) -> Tainted:
        marked = super().__new__(cls, value)
        marked.pieces = pieces if pieces is not None else ((str.__str__(marked), None),)
        created = _CREATED.get()
        if created is not None:
            created.append(str.__str__(marked))
        return marked

    @classmethod
    def secret(cls, value: str, name: str) -> Tainted:
        """A secret variable's value, as expressions receive it."""
        return cls(value, ((value, name),))

    def __str__(self) -> str:
        return self  # `str(x)` and the `string` filter keep the mark

    def __getitem__(self, key: Any) -> Tainted:
        return Tainted(str.__getitem__(self, key))

    def __iter__(self) -> Iterator[str]:
        return (Tainted(char) for char in str.__iter__(self))

    def __add__(self, other: Any) -> Any:
        return join((self, other)) if isinstance(other, str) else NotImplemented

    def __radd__(self, other: Any) -> Any:
        return join((other, self)) if isinstance(other, str) else NotImplemented

    def __mul__(self, count: Any) -> Tainted:
        return Tainted(str.__mul__(self, count))

    __rmul__ = __mul__

    def __mod__(self, args: Any) -> Tainted:
        return Tainted(str.__mod__(self, args))

    def __rmod__(self, template: Any) -> Any:
        return Tainted(str.__mod__(template, self)) if isinstance(template, str) else NotImplemented

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tainted, (str.__str__(self), self.pieces))


_CREATED: ContextVar[list[str] | None] = ContextVar("tainted_created", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[list[str]]:
    """The values of the marked strings made meanwhile (in this thread): an expression that
    fails part-way may quote one in its error, which is then masked by value."""
    created: list[str] = []
    token = _CREATED.set(created)
    try:
        yield created
    finally:
        _CREATED.reset(token)


class TaintedMarkup(Tainted, Markup):
    """A marked string that is also HTML-safe (what `| e` returns). It behaves as a `Markup`
    does (its methods and operators return `Markup`, escaping their other operand), and the
    result is marked again, so escaping it twice changes nothing, marked or not."""

    def __str__(self) -> str:
        return Tainted(str.__str__(self), self.pieces)  # str() of a Markup is plain text

    def __getitem__(self, key: Any) -> Any:
        return mark(Markup.__getitem__(self, key))

    def __add__(self, other: Any) -> Any:
        return mark(Markup.__add__(self, other))

    def __radd__(self, other: Any) -> Any:
        return mark(Markup.__radd__(self, other))

    def __mul__(self, count: Any) -> Any:
        return mark(Markup.__mul__(self, count))

    __rmul__ = __mul__

    def __mod__(self, args: Any) -> Any:
        return mark(Markup.__mod__(self, args))


def is_tainted(value: Any) -> bool:
    """Whether a secret is anywhere inside `value` (strings, lists, tuples, dicts)."""
    if isinstance(value, Tainted):
        return True
    if isinstance(value, list | tuple):
        return any(is_tainted(item) for item in value)
    if isinstance(value, dict):
        return any(is_tainted(key) or is_tainted(item) for key, item in value.items())
    return False


def mark(value: Any) -> Any:
    """Every string in `value` marked: the result of an operation that read a secret."""
    if isinstance(value, Tainted):
        return value
    if isinstance(value, str):
        return TaintedMarkup(value) if hasattr(value, "__html__") else Tainted(value)
    if isinstance(value, list):
        return [mark(item) for item in value]
    if isinstance(value, tuple):
        return tuple(mark(item) for item in value)
    if isinstance(value, dict):
        return {mark(key): mark(item) for key, item in value.items()}
    if isinstance(value, Iterator):
        return (mark(item) for item in value)
    return value


def propagate(result: Any, *inputs: Any) -> Any:
    """`result` marked when any of the operation's inputs held a secret."""
    return mark(result) if any(is_tainted(item) for item in inputs) else result


def join(parts: Iterable[Any], separator: str = "") -> str:
    """`separator.join(map(str, parts))`, marked piece by piece when a part is marked: the
    text around a secret stays readable once the secret is hidden."""
    parts = [part if isinstance(part, str) else str(part) for part in parts]
    joined = separator.join(parts)
    if not any(isinstance(part, Tainted) for part in parts) and not isinstance(
            separator, Tainted):
        return joined
    pieces: list[Piece] = []
    for index, part in enumerate(parts):
        if index and separator:
            _extend(pieces, separator)
        _extend(pieces, part)
    return Tainted(joined, tuple(pieces))


def assemble(pieces: Iterable[Piece]) -> str:
    """The string made of `pieces` (plain text and secret parts): marked when a part is
    secret, else plain. Adjacent plain texts, and adjacent derived parts, are merged."""
    merged: list[Piece] = []
    for piece in pieces:
        _extend_piece(merged, piece)
    if not any(isinstance(piece, tuple) for piece in merged):
        return "".join(piece for piece in merged if isinstance(piece, str))
    return Tainted("".join(p if isinstance(p, str) else p[0] for p in merged), tuple(merged))


def _extend(pieces: list[Piece], part: str) -> None:
    for piece in part.pieces if isinstance(part, Tainted) else (str.__str__(part),):
        _extend_piece(pieces, piece)


def _extend_piece(pieces: list[Piece], piece: Piece) -> None:
    last = pieces[-1] if pieces else None
    if isinstance(piece, str) and isinstance(last, str):
        pieces[-1] = last + piece
    elif isinstance(piece, tuple) and isinstance(last, tuple) and piece[1] is None \
            and last[1] is None:  # two derived parts side by side: one secret
        pieces[-1] = (last[0] + piece[0], None)
    elif piece != "":
        pieces.append(piece)


def tainting_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    """A Jinja filter whose result is marked when an argument held a secret. `wraps` keeps the
    marks Jinja's `pass_context`/`pass_environment` decorators leave on the function."""

    @functools.wraps(function)
    def filtered(*args: Any, **kwargs: Any) -> Any:
        return propagate(function(*args, **kwargs), *args, *kwargs.values())

    return filtered
