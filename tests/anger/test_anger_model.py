"""The anger model on its own: the naive-Bayes-scaled classifier (`nblr`), normalisation and emoticon tokens."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from bot.anger.model import AngerModel, _nb_ratio, normalize, word_unigrams

TEXTS = [
    "I am furious, where is my refund",
    "this is outrageous, you people are useless",
    "I hate this app, it crashed again",
    "what the hell, charged twice",
    "气死我了，垃圾客服",
    "骗子公司，坑人",
    "when will my parcel arrive?",
    "thanks, that solved it",
    "what are your opening hours",
    "我的快递到哪了",
    "谢谢，收到了",
    "请问怎么退货",
]
LABELS = ["angry"] * 6 + ["other"] * 6
NBLR = {"classifier": "nblr", "C": 8.0, "char_analyzer": "char", "char_ngrams": (1, 2), "cue_weight": 0.0}


def test_nb_ratio_favours_features_of_the_positive_class() -> None:
    from scipy import sparse

    features = sparse.csr_matrix(np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
    ratio = _nb_ratio(features, np.array([True, True, False]))
    assert ratio[0] > 0 > ratio[1]
    # A feature present everywhere is neutral only up to the normalisation; it sits between the other two.
    assert ratio[1] < ratio[2] < ratio[0]


def test_nblr_fast_path_matches_scikit_learn() -> None:
    model = AngerModel(**NBLR).fit(TEXTS, LABELS)
    probes = ["you are useless, I'm furious", "请问几点发货", "垃圾！骗子！", "where is my parcel"]
    features = model._features(probes).multiply(model._nb_ratio[np.newaxis, :]).tocsr()
    expected = model._clf.predict_proba(features)[:, model.classes_.index("angry")]
    np.testing.assert_allclose(model.scores(probes), expected, rtol=1e-6, atol=1e-9)


def test_nblr_separates_its_training_data() -> None:
    model = AngerModel(**NBLR).fit(TEXTS, LABELS)
    scores = model.scores(TEXTS)
    assert min(scores[:6]) > max(scores[6:])


def test_nblr_needs_exactly_two_labels() -> None:
    with pytest.raises(ValueError, match="exactly two labels"):
        AngerModel(**NBLR).fit(TEXTS, ["angry"] * 6 + ["unhappy"] * 3 + ["neutral"] * 3)


def test_unknown_classifier_is_rejected() -> None:
    with pytest.raises(ValueError, match="classifier"):
        AngerModel(classifier="forest")


def test_nblr_survives_save_and_load(tmp_path: pathlib.Path) -> None:
    model = AngerModel(**NBLR).fit(TEXTS, LABELS)
    before = model.scores(["you are useless", "谢谢"])
    model.save(tmp_path)
    loaded = AngerModel.load(tmp_path)
    np.testing.assert_allclose(loaded.scores(["you are useless", "谢谢"]), before)


def test_normalize_drops_forwarding_marks_only() -> None:
    assert normalize("太过分了//@小明:同意") == "太过分了 同意"
    assert normalize("太過分了//@小明：同意") == "太过分了 同意"
    assert normalize("my email is a@b.com // ok") == "my email is a@b.com // ok"


def test_bracketed_emoticons_are_tokens() -> None:
    grams = word_unigrams(normalize("又是这样[怒][抓狂] so mad!!"))
    assert "[怒]" in grams and "[抓狂]" in grams
    assert "!!" in grams and "mad" in grams
    assert not any(g.startswith("[") for g in word_unigrams("[order 12345] where is it"))


def test_cues_split_by_script_go_to_their_own_block() -> None:
    model = AngerModel(cue_weight=2.0, cue_weight_zh=0.5)
    latin = model._cue_row("I am furious!!!")
    chinese = model._cue_row("气死我了！！！")
    half = len(latin) // 2
    assert len(latin) == 2 * half
    assert latin[:half].max() > 0 and not latin[half:].any()
    assert chinese[half:].max() > 0 and not chinese[:half].any()
    assert latin[:half].max() <= 2.0 and chinese[half:].max() <= 0.5
    assert len(AngerModel()._cue_row("I am furious")) == half  # one shared block by default


def test_split_cue_fast_path_matches_scikit_learn() -> None:
    model = AngerModel(C=4.0, cue_weight=1.3, cue_weight_zh=0.5).fit(TEXTS, LABELS)
    probes = ["you are useless, I'm furious!!!", "请问几点发货", "垃圾！骗子！！！", "where is my parcel"]
    expected = model._clf.predict_proba(model._features(probes))[:, model.classes_.index("angry")]
    np.testing.assert_allclose(model.scores(probes), expected, rtol=1e-6, atol=1e-9)
