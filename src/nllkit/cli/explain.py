"""``nllkit explain [NAME]``: the recipe of one likelihood or loss, from the classes themselves.

A likelihood's text is its :meth:`~nllkit.likelihoods.Likelihood.recipe` (the class attributes
``domain``, ``distribution_name``, ``link``, ``nll_formula``, ``predict_rule``, ``implemented_by``,
``pitfalls``). A loss's text is its module's docstring summary, its ``expects`` attribute, the
functional its docstring points to, its options in the ``--losses`` language, its own
``pitfalls`` attribute if it has one, and the recipe of the likelihood it is the NLL of. Nothing is
copied here: change the class, and ``explain`` changes with it.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from .. import likelihoods
from .. import nn as nnk
from ..errors import ConfigurationError
from ..likelihoods import Likelihood
from .losses import REGISTRY, available_losses

__all__ = ["explain", "list_names"]

# For losses with no registry entry and no ``likelihood`` attribute: the likelihood they are the
# NLL of (a name, resolved in nllkit.likelihoods).
_LIKELIHOOD_OF = {
    "BCEWithLogitsLoss": "Bernoulli",
    "BCELoss": "Bernoulli",
    "CrossEntropyLoss": "Categorical",
    "NLLLoss": "Categorical",
}
_EXPECTS_TEXT = {
    "logits": "logits (raw scores, any real number): do not apply a sigmoid/softmax before it",
    "probabilities": "probabilities in [0, 1]: apply the sigmoid before it",
    "log_probabilities": "log-probabilities: pair it with LogSoftmax",
}


def _likelihood_classes() -> dict[str, type[Likelihood]]:
    out = {}
    for name in getattr(likelihoods, "__all__", []):
        obj = getattr(likelihoods, name, None)
        if isinstance(obj, type) and issubclass(obj, Likelihood) and obj is not Likelihood:
            out[name] = obj
    return out


def _loss_classes() -> dict[str, type]:
    from ..nn._base import Loss

    out = {}
    for name in getattr(nnk, "__all__", []):
        obj = getattr(nnk, name, None)
        if isinstance(obj, type) and issubclass(obj, Loss):
            out[name] = obj
    return out


def list_names() -> str:
    """The text of ``nllkit explain`` with no name: every likelihood and loss."""
    liks = _likelihood_classes()
    losses = _loss_classes()
    short = {REGISTRY[n].cls_name: n for n in available_losses()}
    lines = ["Likelihoods (nllkit.likelihoods): the distribution, the link and the NLL"]
    for name, cls in liks.items():
        lines.append(f"  {name:<22} {cls.domain}")
    lines.append("")
    lines.append("Losses (nllkit.nn); --losses names of nllkit compare in brackets")
    for name, cls in losses.items():
        tag = f"[{short[name]}]" if name in short else ""
        lines.append(f"  {name:<22} {tag:<10} {_summary(cls)}")
    lines.append("")
    lines.append("nllkit explain NAME prints one recipe (names are case-insensitive).")
    return "\n".join(lines)


def _clean(text: str) -> str:
    # ":func:`nllkit.x`" / ":class:`~nllkit.Y`" -> "nllkit.x" / "Y"; ``code`` -> code
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    para = doc.split("\n\n", 1)[0]
    return _clean(" ".join(para.split()))


def _functionals(cls: type) -> list[str]:
    doc = inspect.getdoc(cls) or ""
    return sorted(set(re.findall(r"nllkit\.functional\.\w+", doc)))


def _likelihood_for_loss(cls: type) -> type[Likelihood] | None:
    declared: Any = getattr(cls, "likelihood", None)
    if isinstance(declared, type) and issubclass(declared, Likelihood):
        return declared
    name = declared if isinstance(declared, str) else _LIKELIHOOD_OF.get(cls.__name__)
    if name is None:
        for e in REGISTRY.values():
            if e.cls_name == cls.__name__:
                name = e.likelihood
    found = getattr(likelihoods, name, None) if name else None
    return found if isinstance(found, type) and issubclass(found, Likelihood) else None


def _render_loss(name: str, cls: type) -> str:
    short = [e for e in REGISTRY.values() if e.cls_name == name and e.cls is not None]
    lines = [f"{name}  (nllkit.nn.{name})", f"  {_summary(cls)}"]
    expects = getattr(cls, "expects", None)
    if expects:
        lines.append(f"  takes         : {_EXPECTS_TEXT.get(expects, expects)}")
    funcs = _functionals(cls)
    if funcs:
        lines.append(f"  functional    : {', '.join(funcs)}")
    try:
        sig = str(inspect.signature(cls))
        lines.append(f"  constructor   : {name}{sig}")
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        pass
    for e in short:
        opts = ", ".join(f"{k}=<{o.type.__name__}> ({o.help})" for k, o in e.options.items())
        lines.append(f"  in --losses   : {e.name}" + (f"; options: {opts}" if opts else ""))
        lines.append(f"                  for {', '.join(e.tasks)} targets")
    own = tuple(getattr(cls, "pitfalls", ()) or ())
    if own:
        lines.append("  pitfalls      :")
        lines.extend(f"    - {p}" for p in own)
    lik = _likelihood_for_loss(cls)
    if lik is not None:
        lines.append("")
        lines.append(f"It is the negative log-likelihood of (or builds on) {lik.__name__}:")
        lines.append(lik.recipe().render())
    return "\n".join(lines)


def _render_likelihood(cls: type[Likelihood]) -> str:
    text = cls.recipe().render()
    names = [n for n in available_losses() if REGISTRY[n].likelihood == cls.__name__]
    if names:
        text += "\n  in --losses   : " + ", ".join(names)
    return text


def explain(name: str) -> str:
    """The recipe text for ``name``: a likelihood class, an ``nllkit.nn`` loss or a --losses name.

    Raises:
        ConfigurationError: for an unknown name (the message lists the known ones).

    Example:
        >>> print(explain("bernoulli").splitlines()[1])
          target domain : {0, 1} (soft targets in [0, 1] also work)
    """
    key = name.strip().lower()
    liks = {n.lower(): c for n, c in _likelihood_classes().items()}
    losses = {n.lower(): (n, c) for n, c in _loss_classes().items()}
    for short in available_losses():
        e = REGISTRY[short]
        if e.cls is not None:
            losses.setdefault(short, (e.cls_name, e.cls))
    if key in liks:
        return _render_likelihood(liks[key])
    if key in losses:
        return _render_loss(*losses[key])
    known = sorted({*(c.__name__ for c in liks.values()), *(n for n, _ in losses.values())})
    raise ConfigurationError(
        argument="NAME",
        expected="a likelihood or loss: "
        + ", ".join(known)
        + ", or "
        + ", ".join(available_losses()),
        found=repr(name),
        fix="run `nllkit explain` to list them",
    )
