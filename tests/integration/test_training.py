"""`cvguard train` reproduces the committed model artifacts, and they are safe and small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cvguard.detection.model import (
    ARTIFACTS,
    CATEGORIES,
    DEFAULT_DIR,
    FORMAT,
    HEADS_FORMAT,
    CategoryHeads,
    LinearTextModel,
    artifact_path,
)
from cvguard.detection.training import data_dir, metrics, read_labelled, train_main
from cvguard.errors import InputError

needs_data = pytest.mark.skipif(
    not (data_dir() / "cold" / "train.csv").exists(),
    reason=f"training data not found at {data_dir()} (../shared/data beside the checkout)",
)


@pytest.mark.parametrize("lang", ARTIFACTS)
def test_artifact_is_small_and_loads_without_pickle(lang: str) -> None:
    path = artifact_path(lang)
    assert path.stat().st_size < 30 * 1024 * 1024
    with np.load(path, allow_pickle=False) as z:  # raises if anything in it needs pickle
        assert all(z[name].dtype != object for name in z.files)
    if lang == CATEGORIES:
        heads = CategoryHeads.load(path)
        assert heads.meta["format"] == HEADS_FORMAT
        assert all(head.meta["format"] == FORMAT for head in heads.heads.values())
        assert heads.meta["version"] and heads.meta["training_data"]
        return
    model = LinearTextModel.load(path)
    assert model.meta["format"] == FORMAT
    assert model.meta["version"] and model.meta["training_data"]  # records its version and data


@needs_data
def test_training_reproduces_the_committed_artifacts(tmp_path: Path) -> None:
    written = train_main(out=tmp_path, seed=0, log=lambda _: None)["artifacts"]
    assert written == [str(artifact_path(lang, tmp_path)) for lang in ARTIFACTS]
    for lang in ARTIFACTS:
        with (
            np.load(artifact_path(lang, tmp_path)) as fresh,
            np.load(artifact_path(lang, DEFAULT_DIR)) as kept,
        ):
            assert sorted(fresh.files) == sorted(kept.files)
            for name in fresh.files:
                assert np.array_equal(fresh[name], kept[name]), f"{lang}: {name} differs"


def test_metrics_are_computed_from_the_labels() -> None:
    # 2 true positives, 1 false positive, 1 false negative, 1 true negative
    m = metrics([1, 1, 0, 1, 0], [1, 1, 1, 0, 0])
    assert m["accuracy"] == 0.6
    assert m["precision"] == pytest.approx(0.6667, abs=1e-4)
    assert m["recall"] == pytest.approx(0.6667, abs=1e-4)


def test_eval_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": 1}\n{"text": "no label"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        read_labelled(bad)
