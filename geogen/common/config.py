"""The one config convention of the project.

Every config is a dataclass deriving from :class:`Config`: typed fields, each documented by a
string literal under it (an attribute docstring), presets as instances in one ``PRESETS`` dict
per config. :class:`Config` gives it

* a type check of every field on construction (one-line :class:`UserError` naming the field);
* a strict ``from_dict`` (unknown keys and wrong types are errors; nested configs are dicts;
  a subclass may rename old keys in ``_migrate``) and ``to_dict`` (JSON-ready);

and :func:`apply_sets` is the dotted ``--set a.b=c`` parser every command line shares.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Iterable, TypeVar

from .errors import UserError

C = TypeVar("C", bound="Config")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _hints(cls) -> dict[str, Any]:
    """Resolved field annotations of a dataclass (modules use ``from __future__ import annotations``)."""
    return typing.get_type_hints(cls)


def _optional_of(tp) -> tuple[Any, bool]:
    """(inner type, True) for ``X | None``; (tp, False) otherwise."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _type_name(tp) -> str:
    inner, optional = _optional_of(tp)
    name = getattr(inner, "__name__", None) if typing.get_origin(inner) is None else str(inner)
    return f"{name or inner} | None" if optional else str(name or inner)


def _is_config(tp) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _check(owner: str, name: str, tp, value):
    """``value`` checked against annotation ``tp``; returns it normalised (int → float, list → tuple)."""
    inner, optional = _optional_of(tp)
    if value is None and optional:
        return None
    origin = typing.get_origin(inner) or inner
    ok = True
    if inner is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif inner is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif inner in (str, bool):
        ok = isinstance(value, inner)
    elif origin is tuple:
        ok = isinstance(value, (tuple, list))
        if ok:
            args = typing.get_args(inner)
            item = args[0] if args else None
            if len(args) > 1 and args[1] is not Ellipsis:
                ok = len(value) == len(args)
                item = args[0] if len(set(args)) == 1 else None
            value = tuple(_check(owner, name, item, v) for v in value) if ok and item is not None else \
                tuple(value) if ok else value
    elif _is_config(inner):
        ok = isinstance(value, inner)
    if not ok:
        raise UserError(f"{owner}.{name} must be of type {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    return value


class Config:
    """Base of every config dataclass: type-checked fields, strict ``from_dict``, ``to_dict``.

    A subclass with its own ``__post_init__`` calls ``super().__post_init__()`` first.
    """

    def __post_init__(self):
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            checked = _check(type(self).__name__, f.name, hints[f.name], value)
            if checked is not value:
                object.__setattr__(self, f.name, checked)   # also for frozen configs

    @classmethod
    def _migrate(cls, data: dict) -> dict:
        """Rename keys of older files to today's names (the default: nothing to rename)."""
        return data

    @classmethod
    def from_dict(cls: type[C], data: Any) -> C:
        """Build from a mapping (e.g. a JSON file); unknown keys and wrong types are one-line errors."""
        if not isinstance(data, dict):
            raise UserError(f"{cls.__name__} must be a mapping of field names to values, got {type(data).__name__}")
        data = cls._migrate(dict(data))
        hints = _hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise UserError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(names)}")
        kwargs = {}
        for name, value in data.items():
            tp, _ = _optional_of(hints[name])
            kwargs[name] = tp.from_dict(value) if _is_config(tp) and isinstance(value, dict) else value
        return cls(**kwargs)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists, nested configs dicts)."""
        def plain(v):
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v
        return {k: plain(v) for k, v in dataclasses.asdict(self).items()}


# ----------------------------------------------------------------------------- the --set parser
def split_assignment(item: str) -> tuple[str, str]:
    """``"a.b = c"`` → ``("a.b", "c")``; one-line error without ``=``."""
    if "=" not in item:
        raise UserError(f"--set expects key=value, got {item!r}")
    key, value = (s.strip() for s in item.split("=", 1))
    return key, value


def parse_value(text: str, tp, key: str):
    """``text`` as annotation ``tp``: bool (true/false/1/0/yes/no), int, float, str, tuples
    (comma-separated; an untyped ``tuple`` holds floats) and ``X | None`` (``none`` or ``null``)."""
    inner, optional = _optional_of(tp)
    if optional and text.lower() in ("none", "null"):
        return None
    origin = typing.get_origin(inner) or inner
    try:
        if inner is bool:
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError
            return text.lower() in _TRUE
        if inner in (int, float):
            return inner(text)
        if origin is tuple:
            args = typing.get_args(inner)
            item = args[0] if args else float
            parts = [p.strip() for p in text.split(",")] if text.strip() else []
            return tuple(parse_value(p, item, key) for p in parts)
        return text
    except (ValueError, UserError):
        name = _type_name(tp)
        raise UserError(f"--set {key}={text}: expected {'an' if name[0] in 'aeiou' else 'a'} {name}") from None


def apply_sets(cfg: C, assignments: Iterable[str], fixed: Iterable[str] = (), prefix: str = "",
               also_known: Iterable[str] = ()) -> C:
    """A copy of config ``cfg`` with the dotted ``key=value`` assignments applied (``loss.r1_gamma=2``
    sets a field of the nested ``loss`` config), each value parsed as its field's type, then checked
    by the config itself. ``fixed`` fields are not settable; ``prefix`` is what the error messages put
    before the key (the CLI's name of ``cfg``); ``also_known`` are further keys the CLI accepts
    elsewhere (listed in the unknown-key error). The input config is never changed."""
    changes: dict[str, list[tuple[str, str]]] = {}
    for item in assignments:
        key, text = split_assignment(item)
        head, _, rest = key.partition(".")
        changes.setdefault(head, []).append((rest, text) if rest else ("", text))
    return _apply(cfg, changes, set(fixed), prefix, tuple(also_known))


def _apply(cfg, changes: dict, fixed: set, prefix: str, also_known: tuple = ()):
    hints = _hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg) if f.name not in fixed]
    section = prefix.rstrip(".")
    values = {}
    for head, items in changes.items():
        full = f"{prefix}{head}"
        if head not in names:
            what = f"unknown {section} field" if section else "unknown field"
            nested = [f"{n}.<field>" for n in names if _is_config(hints[n])]
            plain = [n for n in names if not _is_config(hints[n])]
            raise UserError(f"--set {full}: {what}; known: {', '.join(sorted(plain) + nested + list(also_known))}")
        tp = hints[head]
        if _is_config(tp):
            sub = {}
            for rest, text in items:
                if not rest:
                    raise UserError(f"--set {full}={text}: {full} is a group of settings; set {full}.<field>")
                h, _, r = rest.partition(".")
                sub.setdefault(h, []).append((r, text))
            values[head] = _apply(getattr(cfg, head), sub, set(), f"{full}.")
        else:
            for rest, text in items:
                if rest:
                    raise UserError(f"--set {full}.{rest}: {full} is a single value, not a group")
                values[head] = parse_value(text, tp, full)
    return dataclasses.replace(cfg, **values) if values else cfg
