"""The loss spec language of ``nllkit compare --losses`` and the registry behind it.

Grammar (whitespace is ignored)::

    specs  := spec ("," spec)*
    spec   := term ("+" term)*                    a weighted sum (nllkit.nn.CombinedLoss)
    term   := [WEIGHT "*"] NAME (":" OPTION)*     e.g. 0.5*dice, focal:gamma=2
    OPTION := KEY "=" VALUE                       numbers, true/false

``"bce, bce:pos_weight=3, focal:gamma=2:alpha=0.25, bce+0.5*dice"`` is four losses. Options may
also follow a comma (``focal:gamma=2,alpha=0.25``): a comma-separated piece that starts with
``KEY=`` continues the previous term, since loss names never contain ``=``.

Names map to ``nllkit.nn`` classes through :data:`REGISTRY`. The lookup happens when a spec is
parsed, not when this module is imported, so an entry whose class is not in ``nllkit.nn`` (yet) is
simply absent from :func:`available_losses` and appears as soon as the class exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_LOSSES",
    "REGISTRY",
    "LossEntry",
    "LossSpec",
    "Option",
    "Term",
    "available_losses",
    "default_specs",
    "parse_losses",
]

#: the tasks of ``nllkit compare`` and the ``mode=`` each one gives nllkit's losses
MODE_OF_TASK = {
    "binary": "binary",
    "segmentation": "binary",
    "multiclass": "multiclass",
    "multilabel": "multilabel",
}


@dataclass(frozen=True)
class Option:
    """One option of a registry entry: its type and one line of help."""

    type: type
    help: str


@dataclass(frozen=True)
class LossEntry:
    """A name of the spec language and how to build its ``nllkit.nn`` module.

    Attributes:
        name: the short name (``"bce"``).
        cls_name: the class in :mod:`nllkit.nn` (``"BCEWithLogitsLoss"``).
        tasks: the tasks it applies to.
        options: the accepted options, mapped to constructor arguments by ``build``.
        likelihood: the likelihood it is the NLL of (or builds on), for ``nllkit explain``.
        build: ``build(cls, task, options) -> module``.
    """

    name: str
    cls_name: str
    tasks: tuple[str, ...]
    options: dict[str, Option]
    likelihood: str
    build: Callable[[type, str, dict[str, Any]], nn.Module]

    @property
    def cls(self) -> type | None:
        """The ``nllkit.nn`` class, or ``None`` if it does not exist (yet)."""
        from .. import nn as nnk

        found = getattr(nnk, self.cls_name, None)
        return found if isinstance(found, type) else None


def _build_bce(cls: type, task: str, o: dict[str, Any]) -> nn.Module:
    kwargs: dict[str, Any] = {}
    if "pos_weight" in o:
        kwargs["pos_weight"] = torch.tensor(float(o["pos_weight"]))
    if "label_smoothing" in o:
        kwargs["label_smoothing"] = float(o["label_smoothing"])
    return cls(**kwargs)


def _build_ce(cls: type, task: str, o: dict[str, Any]) -> nn.Module:
    return cls(**{k: float(v) for k, v in o.items()})


def _build_mode(cls: type, task: str, o: dict[str, Any]) -> nn.Module:
    return cls(mode=MODE_OF_TASK[task], **o)


def _build_overlap(cls: type, task: str, o: dict[str, Any]) -> nn.Module:
    # an image is one sample's Dice; a table has one number per row, so the batch is the set
    return cls(mode=MODE_OF_TASK[task], from_logits=True, per_sample=task == "segmentation", **o)


_ALL = ("binary", "multiclass", "multilabel", "segmentation")
_SIGMOID = ("binary", "multilabel", "segmentation")

REGISTRY: dict[str, LossEntry] = {
    e.name: e
    for e in [
        LossEntry(
            "bce",
            "BCEWithLogitsLoss",
            _SIGMOID,
            {
                "pos_weight": Option(
                    float, "weight of the positive class's term (> 1 favours recall)"
                ),
                "label_smoothing": Option(float, "move targets toward 1/2 by this amount"),
            },
            "Bernoulli",
            _build_bce,
        ),
        LossEntry(
            "ce",
            "CrossEntropyLoss",
            ("multiclass",),
            {"label_smoothing": Option(float, "mix the one-hot target with the uniform one")},
            "Categorical",
            _build_ce,
        ),
        LossEntry(
            "focal",
            "FocalLoss",
            _ALL,
            {
                "gamma": Option(
                    float, "focusing: down-weights well-classified examples by (1-p)^γ"
                ),
                "alpha": Option(float, "weight of the positive class (binary/multi-label)"),
            },
            "Bernoulli",
            _build_mode,
        ),
        LossEntry(
            "dice",
            "DiceLoss",
            _ALL,
            {
                "smooth": Option(float, "added to numerator and denominator"),
                "squared": Option(bool, "square the terms of the denominator"),
            },
            "Bernoulli",
            _build_overlap,
        ),
        LossEntry(
            "tversky",
            "TverskyLoss",
            _ALL,
            {
                "alpha": Option(float, "weight of false positives"),
                "beta": Option(float, "weight of false negatives"),
                "smooth": Option(float, "added to numerator and denominator"),
            },
            "Bernoulli",
            _build_overlap,
        ),
        LossEntry(
            "jaccard",
            "JaccardLoss",
            _ALL,
            {"smooth": Option(float, "added to numerator and denominator")},
            "Bernoulli",
            _build_overlap,
        ),
    ]
}

#: the default comparison of each task (entries that do not exist are dropped)
DEFAULT_LOSSES: dict[str, tuple[str, ...]] = {
    "binary": ("bce", "bce:pos_weight=2", "focal:gamma=2", "bce+0.5*dice"),
    "multiclass": ("ce", "ce:label_smoothing=0.1", "focal:gamma=2"),
    "multilabel": ("bce", "focal:gamma=2", "bce+0.5*dice"),
    "segmentation": ("bce", "dice", "bce+dice", "focal:gamma=2", "tversky:alpha=0.3:beta=0.7"),
}


def available_losses(task: str | None = None) -> list[str]:
    """The names whose ``nllkit.nn`` class exists now (and that fit ``task``, if given)."""
    return [
        name
        for name, e in REGISTRY.items()
        if e.cls is not None and (task is None or task in e.tasks)
    ]


def _combined_available() -> bool:
    from .. import nn as nnk

    return hasattr(nnk, "CombinedLoss")


@dataclass(frozen=True)
class Term:
    """One weighted loss of a spec."""

    name: str
    weight: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        opts = "".join(f":{k}={_fmt(v)}" for k, v in self.options.items())
        w = "" if self.weight == 1.0 else f"{_fmt(self.weight)}*"
        return f"{w}{self.name}{opts}"

    @property
    def key(self) -> str:
        """The term without its weight (the key of its ``CombinedLoss`` entry)."""
        return self.text.split("*", 1)[-1]


@dataclass(frozen=True)
class LossSpec:
    """A parsed loss: one term, or a weighted sum of terms."""

    terms: tuple[Term, ...]

    @property
    def text(self) -> str:
        """The canonical text, used as the loss's name in the table, report and metrics.json."""
        return "+".join(t.text for t in self.terms)

    def build(self, task: str) -> nn.Module:
        """A fresh ``nllkit.nn`` module for ``task`` (a ``CombinedLoss`` for several terms)."""
        modules = []
        for t in self.terms:
            entry = REGISTRY[t.name]
            cls = entry.cls
            if cls is None:  # pragma: no cover - parse_losses checked it
                raise ConfigurationError(f"loss {t.name!r} is not available")
            modules.append((t, entry.build(cls, task, dict(t.options))))
        if len(modules) == 1 and self.terms[0].weight == 1.0:
            return modules[0][1]
        from .. import nn as nnk

        return nnk.CombinedLoss({t.key: (m, t.weight) for t, m in modules})


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


_NAME = re.compile(r"^(?:(?P<w>[0-9.eE+-]+)\s*\*\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


def _value(entry: LossEntry, key: str, raw: str, spec: str) -> Any:
    opt = entry.options[key]
    low = raw.strip().lower()
    try:
        if opt.type is bool:
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        value = opt.type(raw)
    except ValueError:
        raise ConfigurationError(
            argument="--losses",
            expected=f"a {opt.type.__name__} for option {key!r} of {entry.name}",
            found=f"{raw!r} in {spec!r}",
            fix=f"write e.g. {entry.name}:{key}={'true' if opt.type is bool else '2'}",
        ) from None
    return value


def _split_specs(text: str) -> list[str]:
    """Split on commas, gluing ``key=value`` pieces back onto the previous spec."""
    out: list[str] = []
    for piece in text.split(","):
        piece = piece.strip()
        if not piece:
            continue
        head = re.split(r"[:+*]", piece, maxsplit=1)[0]
        if "=" in head and out:
            out[-1] += ":" + piece
        else:
            out.append(piece)
    return out


def _parse_term(text: str, task: str, spec: str) -> Term:
    name_part, *opt_parts = [p.strip() for p in text.split(":")]
    m = _NAME.match(name_part)
    if m is None:
        raise ConfigurationError(
            argument="--losses",
            expected="terms like NAME, NAME:key=value or WEIGHT*NAME",
            found=f"{text!r} in {spec!r}",
            fix='write e.g. --losses "bce, focal:gamma=2, bce+0.5*dice" (see nllkit explain)',
        )
    name = m.group("name").lower()
    known = available_losses()
    if name not in REGISTRY or name not in known:
        raise ConfigurationError(
            argument="--losses",
            expected="one of " + ", ".join(known),
            found=f"unknown loss {name!r}",
            fix="pick one of those (nllkit explain NAME describes each)",
        )
    entry = REGISTRY[name]
    if task not in entry.tasks:
        fits = ", ".join(available_losses(task))
        raise ConfigurationError(
            argument="--losses",
            expected=f"a loss for a {task} target ({fits})",
            found=f"{name!r}, which applies to {', '.join(entry.tasks)} targets",
            fix=f"use one of {fits}",
        )
    weight = 1.0
    if m.group("w") is not None:
        try:
            weight = float(m.group("w"))
        except ValueError:
            weight = float("nan")
        if not weight > 0 or weight == float("inf"):
            raise ConfigurationError(
                argument="--losses",
                expected="a positive finite weight before '*'",
                found=f"{m.group('w')!r} in {spec!r}",
                fix="write e.g. 0.5*dice",
            )
    options: dict[str, Any] = {}
    for part in opt_parts:
        key, eq, raw = part.partition("=")
        key = key.strip()
        if not eq or not raw.strip():
            raise ConfigurationError(
                argument="--losses",
                expected="options written key=value",
                found=f"{part!r} in {spec!r}",
                fix=f"write e.g. {name}:{next(iter(entry.options), 'key')}=1",
            )
        if key not in entry.options:
            names = ", ".join(entry.options) or "none"
            raise ConfigurationError(
                argument="--losses",
                expected=f"an option of {name} ({names})",
                found=f"unknown option {key!r}",
                fix=f"use one of its options: {names}",
            )
        if key in options:
            raise ConfigurationError(
                argument="--losses",
                expected="each option once per term",
                found=f"{key!r} twice in {spec!r}",
                fix="keep one of them",
            )
        options[key] = _value(entry, key, raw, spec)
    return Term(name, weight, options)


def parse_losses(text: str, task: str) -> list[LossSpec]:
    """Parse a ``--losses`` string for ``task`` and check every name, option and value.

    Each spec is also built once (and thrown away) so that a value its class rejects (a negative
    ``gamma``) is reported now, before any training.

    Raises:
        ConfigurationError: for an empty list, an unknown name or option (the message lists what
            exists), a loss that does not fit the task, a bad value, or a duplicated spec.

    Example:
        >>> [s.text for s in parse_losses("bce, bce:pos_weight=3", "binary")]
        ['bce', 'bce:pos_weight=3']
    """
    specs: list[LossSpec] = []
    for piece in _split_specs(text):
        terms = tuple(_parse_term(t.strip(), task, piece) for t in piece.split("+"))
        if any(not t.name for t in terms):  # pragma: no cover - _NAME requires a name
            raise ConfigurationError(f"empty term in {piece!r}")
        if len(terms) > 1 or terms[0].weight != 1.0:
            if not _combined_available():
                raise ConfigurationError(
                    argument="--losses",
                    expected="single losses (weighted sums need nllkit.nn.CombinedLoss)",
                    found=repr(piece),
                    fix="this build of nllkit has no CombinedLoss; list the losses separately",
                )
            keys = [t.key for t in terms]
            if len(set(keys)) != len(keys):
                raise ConfigurationError(
                    argument="--losses",
                    expected="distinct terms in a sum",
                    found=repr(piece),
                    fix="merge the repeated term into one weight",
                )
        spec = LossSpec(terms)
        if any(s.text == spec.text for s in specs):
            raise ConfigurationError(
                argument="--losses",
                expected="each loss once",
                found=f"{spec.text!r} twice",
                fix="remove the duplicate",
            )
        try:
            spec.build(task)
        except ConfigurationError as e:
            raise ConfigurationError(f"{spec.text}: {e}") from None
        except (TypeError, ValueError) as e:
            raise ConfigurationError(
                argument="--losses",
                expected=f"options that {spec.text} accepts",
                found=f"{type(e).__name__}: {e}",
                fix="check the values (nllkit explain NAME lists the options)",
            ) from None
        specs.append(spec)
    if not specs:
        raise ConfigurationError(
            argument="--losses",
            expected="at least one loss",
            found=repr(text),
            fix='write e.g. --losses "bce, focal:gamma=2"',
        )
    return specs


def default_specs(task: str) -> list[LossSpec]:
    """The default comparison for ``task``, keeping only the losses that exist in this build."""
    out = []
    for text in DEFAULT_LOSSES[task]:
        try:
            out.extend(parse_losses(text, task))
        except ConfigurationError:
            continue  # a loss of the default set that is not available (yet)
    return out
