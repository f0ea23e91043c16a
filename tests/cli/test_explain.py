"""``nllkit explain``: its text comes from the likelihood and loss classes themselves."""

from __future__ import annotations

import pytest

from nllkit.cli import main
from nllkit.cli.explain import explain, list_names
from nllkit.errors import ConfigurationError
from nllkit.likelihoods import Bernoulli, Categorical


def test_bce_names_the_logits_pitfall():
    text = explain("bce")
    assert "BCEWithLogitsLoss" in text
    assert "takes         : logits" in text
    assert "nllkit.functional.binary_cross_entropy_with_logits" in text
    assert "BCELoss takes probabilities" in text
    assert Bernoulli.recipe().render() in text  # the likelihood's own recipe, verbatim


def test_text_follows_the_class(monkeypatch):
    monkeypatch.setattr(Categorical, "pitfalls", ("A pitfall written only on the class.",))
    assert "A pitfall written only on the class." in explain("ce")
    assert "A pitfall written only on the class." in explain("Categorical")


def test_names_are_case_insensitive_and_cover_likelihoods_and_modules():
    assert explain("bernoulli") == explain("Bernoulli")
    assert "FocalLoss" in explain("focal")
    assert "DiceLoss" in explain("DiceLoss")
    assert explain("Gaussian").startswith("Gaussian")


def test_list_and_unknown(capsys):
    names = list_names()
    assert "Bernoulli" in names and "BCEWithLogitsLoss" in names and "[bce]" in names
    assert main(["explain"]) == 0
    assert "Likelihoods" in capsys.readouterr().out
    with pytest.raises(ConfigurationError, match="expected a likelihood or loss"):
        explain("nope")
    assert main(["explain", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nllkit: error:") and err.count("\n") == 1
