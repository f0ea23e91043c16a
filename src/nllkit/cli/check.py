"""``nllkit check MODEL --loss LOSS``: does the model output what the loss expects?

Loads a model (``module.path:attr`` or ``path/to/file.py:attr``) and a loss (a class of
``nllkit.nn`` or ``torch.nn``, a dotted class path, or one spec of the ``--losses`` language) and
runs :func:`nllkit.guards.inspect_model` on the pair: a final ``Sigmoid``/``Softmax`` before a loss
that applies its own, a ``BCELoss`` on logits, an ``NLLLoss`` without ``LogSoftmax``. With
``--input-shape`` the model also runs on a seeded random batch, which catches a ``torch.sigmoid``
called inside ``forward``. Exit status: 0 ok, 1 problems found, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import nn as nnk
from ..errors import ConfigurationError
from ..guards import _LINK_LAYERS, _expects, _last_layer, inspect_model
from .losses import REGISTRY, available_losses, parse_losses

__all__ = ["build_loss", "build_model", "parse_shape", "run_check"]

_JUDGED = ("logits", "probabilities", "log_probabilities")
_CLASS_PATH = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def _import(target: str, argument: str, *, dotted: bool = False) -> Any:
    """The object named by ``module.path:attr``, ``file.py:attr`` (or ``module.path.Attr``).

    ``dotted`` accepts the last form (for loss classes: ``torch.nn.BCELoss``).
    """
    location, colon, attr = target.rpartition(":")
    if not colon and dotted:  # module.path.Attr: the last dot separates the attribute
        location, _, attr = target.rpartition(".")
    if not location or not attr:
        raise ConfigurationError(
            argument=argument,
            expected="module.path:attr or path/to/file.py:attr",
            found=repr(target),
            fix="name the object after a colon, e.g. mypkg.models:build_model or model.py:Net",
        )
    sys.path.insert(0, os.getcwd())  # as `python -m` does
    try:
        importlib.invalidate_caches()
        if location.endswith(".py"):
            path = Path(location)
            if not path.is_file():
                raise ConfigurationError(
                    argument=argument,
                    expected="an existing Python file",
                    found=f"no file {str(path)!r}",
                    fix="check the path (relative paths start at the current directory)",
                )
            name = "_nllkit_check_" + re.sub(r"\W", "_", path.stem)
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:  # pragma: no cover - a .py file always loads
                raise ConfigurationError(f"cannot load {location}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # as importlib's recipe does (dataclasses need it)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(location)
    except ConfigurationError:
        raise
    except Exception as err:
        raise ConfigurationError(
            argument=argument,
            expected=f"{location} to import",
            found=_one_line(err),
            fix="fix the error above, or check the name and that its package is importable "
            "from the current directory",
        ) from None
    finally:
        sys.path.remove(os.getcwd())
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(module) if not n.startswith("_")]
            raise ConfigurationError(
                argument=argument,
                expected=f"an attribute {attr!r} in {location}",
                found=f"no attribute {part!r}",
                fix="use one of: " + (", ".join(public[:20]) or "(it defines nothing public)"),
            )
        obj = getattr(obj, part)
    return obj


def build_model(target: str) -> nn.Module:
    """Import and build the model named by ``target`` (an instance, a class, or a factory)."""
    obj = _import(target, "MODEL")
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise ConfigurationError(
            argument="MODEL",
            expected="an nn.Module, an nn.Module class, or a function returning one",
            found=f"{target} is a {type(obj).__name__}",
            fix="point at the model object, its class, or a function that builds it",
        )
    try:
        model = obj()
    except Exception as err:
        raise ConfigurationError(
            argument="MODEL",
            expected=f"{target}() to build the model with no arguments",
            found=_one_line(err),
            fix="give every argument a default, or point at a function that builds the model",
        ) from None
    if not isinstance(model, nn.Module):
        raise ConfigurationError(
            argument="MODEL",
            expected=f"{target}() to return an nn.Module",
            found=f"a {type(model).__name__}",
            fix="return the model itself (not a tuple or a state dict)",
        )
    return model


def build_loss(text: str, task: str | None) -> nn.Module:
    """The loss named by ``text``: a class (instantiated without arguments), else one spec.

    ``task`` is ``--task``; when it is ``None`` a spec is built for ``binary``, or else for
    ``multiclass`` (so ``ce`` needs no ``--task``).
    """
    text = text.strip()
    cls: Any = None
    for space in (nnk, nn):
        found = getattr(space, text, None)
        if isinstance(found, type) and issubclass(found, nn.Module):
            cls = found
            break
    path_like = _CLASS_PATH.match(text) and ("." in text or ":" in text)
    if cls is None and path_like and re.split(r"[.:]", text)[0].lower() not in REGISTRY:
        cls = _import(text, "--loss", dotted=True)
    if cls is not None:
        if isinstance(cls, nn.Module):
            return cls
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise ConfigurationError(
                argument="--loss",
                expected="a loss class (an nn.Module subclass)",
                found=f"{text} is a {type(cls).__name__}",
                fix="point at the loss class, e.g. torch.nn.BCEWithLogitsLoss",
            )
        try:
            return cls()
        except Exception as err:
            raise ConfigurationError(
                argument="--loss",
                expected=f"{text}() to build with no arguments",
                found=_one_line(err),
                fix="use a spec with options instead (e.g. focal:gamma=2), or a class whose "
                "arguments all have defaults",
            ) from None
    tasks = [task] if task else ["binary", "multiclass"]
    first: ConfigurationError | None = None
    for t in tasks:
        try:
            specs = parse_losses(text, t)
        except ConfigurationError as err:
            first = first or err
            continue
        if len(specs) != 1:
            raise ConfigurationError(
                argument="--loss",
                expected="a single loss",
                found=f"{len(specs)} specs: {', '.join(s.text for s in specs)}",
                fix="check one pairing at a time (run nllkit check once per loss)",
            )
        return specs[0].build(t)
    assert first is not None
    if "unknown loss" in str(first.found):
        classes = [n for n in getattr(nnk, "__all__", []) if n.endswith("Loss")]
        raise ConfigurationError(
            argument="--loss",
            expected="a loss class of nllkit.nn ("
            + ", ".join(classes)
            + ") or torch.nn, a dotted path (torch.nn.BCELoss, mypkg.losses:MyLoss), or a spec "
            "of the --losses language (" + ", ".join(available_losses()) + ")",
            found=repr(text),
            fix="pick one of those (nllkit explain lists the losses)",
        )
    if first.argument is None:
        raise first
    raise ConfigurationError(
        argument="--loss", expected=first.expected, found=first.found, fix=first.fix
    )


def parse_shape(text: str) -> tuple[int, ...]:
    """``"4,3,32,32"`` -> ``(4, 3, 32, 32)``; every size must be a positive integer."""
    try:
        shape = tuple(int(p) for p in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise ConfigurationError(
            argument="--input-shape",
            expected="positive integers separated by commas",
            found=repr(text),
            fix="write the batch shape, e.g. --input-shape 4,3,32,32",
        )
    return shape


def run_check(args: argparse.Namespace) -> int:
    """Run ``nllkit check``; print the findings and return 0 (ok), 1 (problems) or 2."""
    shape = parse_shape(args.input_shape) if args.input_shape else None
    loss = build_loss(args.loss, args.task)
    with torch.random.fork_rng(devices=[]):  # seeded, without touching the caller's RNG
        torch.manual_seed(0)
        model = build_model(args.model).eval()
        x = torch.randn(shape) if shape else None
    seen = ""
    if x is not None:
        try:
            with torch.no_grad():
                out = model(x)
        except Exception as err:
            raise ConfigurationError(
                argument="--input-shape",
                expected=f"the model to run on a batch of shape {shape}",
                found=f"its forward raised {_one_line(err)}",
                fix="give the shape the model takes, batch dimension first",
            ) from None
        if isinstance(out, torch.Tensor) and out.is_floating_point() and out.numel() >= 8:
            seen = f", output {tuple(out.shape)} in [{out.min():.3g}, {out.max():.3g}]"
        elif isinstance(out, torch.Tensor):
            seen = f", output {tuple(out.shape)} (too few values to judge: use a larger batch)"
        else:
            seen = f", output of type {type(out).__name__} (range not checked)"
    findings = inspect_model(model, loss, x)
    if findings:
        if not args.quiet:
            print("\n".join(f"problem: {f}" for f in findings))
        return 1
    leaves = [m for m in loss.modules() if _expects(m) is not None]
    expects = sorted({str(_expects(m)) for m in leaves}) or ["unknown"]
    layer = _last_layer(model)
    last = type(layer).__name__ if layer is not None else "none"
    link = " (a link layer)" if last in _LINK_LAYERS else ""
    line = (
        f"ok: {type(model).__name__} -> {type(loss).__name__}, which expects "
        f"{' and '.join(expects)}; examined: last layer {last}{link}{seen}"
    )
    if x is None:
        line += " (--input-shape also checks the outputs)"
    if not set(expects) <= set(_JUDGED):
        line += f"; could not judge: {type(loss).__name__} declares no logits/probabilities input"
    if not args.quiet:
        print(line)
    return 0
