"""The contract every registered model passes (one parametrised module; docs/models.md).

For each model in ``xrbridge.models.framework.REGISTRY``: a tiny training run
with an ROI, export, PyTorch vs ONNX Runtime maps within 1e-4, the manifest
checked against the graph (a tampered manifest is refused), the ROI honoured
(map 0 outside; pixels outside cannot change the outputs), bad inputs and
options refused with clear errors, and ``train`` flags built from the model's
options dataclass. Adding a model to the registry adds it here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from tests.models_gen import make_category
from xrbridge import cli
from xrbridge.errors import ArtifactError, ModelError, UsageError
from xrbridge.models import options
from xrbridge.models.framework import (
    REGISTRY,
    TrainConfig,
    TrainResult,
    get_trainer,
    options_class,
    train,
)
from xrbridge.models.preprocess import preprocess
from xrbridge.models.runtime import OnnxModel

SIZE = 64
#: Per model: the smallest settings that still exercise every part (seconds, not minutes).
TINY: dict[str, tuple[int | None, dict[str, Any]]] = {
    "patchcore": (None, {"coreset_ratio": 0.2, "proj_dim": 32}),
    "efficientad-s": (
        4,
        {
            "channels": 16,
            "width": 0.0625,
            "distil_steps": 2,
            "distil_crop": 48,
            "student_crop": 48,
            "stats_images": 2,
        },
    ),
    "efficientad-m": (
        4,
        {
            "channels": 16,
            "width": 0.0625,
            "distil_steps": 2,
            "distil_crop": 48,
            "student_crop": 48,
            "stats_images": 2,
        },
    ),
    "simplenet": (20, {"hidden": 32, "batch_patches": 128}),
    "memseg": (3, {"memory_images": 4, "batch": 2, "topk": 20}),
}
MODELS = sorted(REGISTRY)


def test_every_registered_model_has_tiny_settings() -> None:
    assert sorted(TINY) == MODELS, "add the new model's tiny settings to TINY"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_category(
        tmp_path_factory.mktemp("contract"), n_train=10, n_good=2, n_bad=2, size=SIZE, roi=True
    )


def _config(model: str, data: Path, out: Path, **kw: Any) -> TrainConfig:
    steps, opts = TINY[model]
    return TrainConfig(
        model=model,
        data=data,
        out=out,
        image_size=(SIZE, SIZE),
        steps=steps,
        holdout=0.25,
        options=opts,
        progress=False,
        **kw,
    )


@pytest.fixture(scope="module", params=MODELS)
def trained(
    request: pytest.FixtureRequest, data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, TrainResult]:
    model = str(request.param)
    out = tmp_path_factory.mktemp(model.replace("-", "_")) / "model"
    torch.manual_seed(0)
    return model, out, train(_config(model, data, out))


def _image(data: Path, sub: str = "test/blob") -> np.ndarray:
    path = sorted((data / sub).glob("*.png"))[0]
    img = cv2.imread(str(path))
    assert img is not None
    return img


def test_artifact_and_manifest(trained: tuple[str, Path, TrainResult]) -> None:
    model, out, result = trained
    assert (out / "model.onnx").is_file() and (out / "roi.png").is_file()
    m = json.loads((out / "manifest.json").read_text())
    assert m["model"] == model and m["input"]["height"] == SIZE and m["input"]["width"] == SIZE
    assert m["roi"]["applied"] and m["graph_contains"]["roi_mask"]
    assert m["training"]["onnx_max_abs_diff"] < 1e-4
    assert result.manifest["model"] == model


def test_torch_and_onnxruntime_maps_agree(
    trained: tuple[str, Path, TrainResult], data: Path
) -> None:
    _model, out, result = trained
    onnx_model = OnnxModel(out, threads=1)
    for sub in ("test/blob", "test/good"):
        x = preprocess(_image(data, sub), onnx_model.manifest)
        omap, oscore = onnx_model.run(x)
        with torch.inference_mode():
            tmap, tscore = result.graph(torch.from_numpy(x))
        assert np.abs(omap - tmap[0, 0].numpy()).max() < 1e-4
        assert abs(oscore - float(tscore[0])) < 1e-4
        assert omap.min() >= 0.0 and omap.max() <= 1.0 and 0.0 <= oscore <= 1.0


def test_roi_is_honoured(trained: tuple[str, Path, TrainResult], data: Path) -> None:
    _model, out, _result = trained
    onnx_model = OnnxModel(out, threads=1)
    img = _image(data)
    amap, score = onnx_model.predict(img)
    assert np.all(amap[:, SIZE // 2 :] == 0.0), "map must be 0 outside the ROI (right half)"
    other = img.copy()
    other[:, SIZE // 2 :] = 255 - other[:, SIZE // 2 :]
    amap2, score2 = onnx_model.predict(other)
    np.testing.assert_array_equal(amap, amap2)
    assert score == score2


def test_manifest_is_checked_against_the_graph(
    trained: tuple[str, Path, TrainResult], tmp_path: Path
) -> None:
    _model, out, _result = trained
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["score_normalization"]["image"]["threshold"] += 1.0
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError):
        OnnxModel(bad, threads=1)


def test_bad_input_is_refused(trained: tuple[str, Path, TrainResult]) -> None:
    _model, out, _result = trained
    onnx_model = OnnxModel(out, threads=1)
    with pytest.raises(ModelError, match=r"\(1, 3, 64, 64\) float32"):
        onnx_model.run(np.zeros((1, 3, SIZE, SIZE + 32), np.float32))
    with pytest.raises(ModelError, match="float32"):
        onnx_model.run(np.zeros((1, 3, SIZE, SIZE), np.float64))


@pytest.mark.parametrize("model", MODELS)
def test_unknown_and_mistyped_options_are_refused(model: str, data: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown"):
        get_trainer(
            model, TrainConfig(model=model, data=data, out=tmp_path, options={"no_such_option": 1})
        )
    name, typ, _default, _meta = next(
        f for f in options.fields(options_class(model)) if f[1] in (int, float)
    )
    with pytest.raises(UsageError, match=f"{name}: expected {typ.__name__}"):
        get_trainer(
            model, TrainConfig(model=model, data=data, out=tmp_path, options={name: "many"})
        )


@pytest.mark.parametrize("model", MODELS)
def test_train_flags_come_from_the_options_dataclass(
    model: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = cli.build_parser()
    flags = {
        a
        for act in parser._subparsers._group_actions[0].choices["train"]._actions  # type: ignore[union-attr]
        for a in act.option_strings
    }
    for name, _typ, _d, meta in options.fields(options_class(model)):
        if meta.get("flag", True):
            assert options.flag_name(name) in flags
    own = {f[0] for f in options.fields(options_class(model))}
    # another model's option, given a value its own flag accepts (its default)
    foreign, value = next(
        (f[0], f[2])
        for m in MODELS
        for f in options.fields(options_class(m))
        if f[0] not in own and f[3].get("flag", True)
    )
    rc = cli.main(
        [
            "train",
            "--model",
            model,
            "--data",
            str(data),
            "--out",
            str(tmp_path / "x"),
            options.flag_name(foreign),
            str(value),
        ]
    )
    assert rc == 2
    assert f"not an option of {model}" in capsys.readouterr().err


def test_auto_size_keeps_the_aspect_of_elongated_images(tmp_path: Path) -> None:
    from xrbridge.models.framework import auto_size

    for i in range(6):
        cv2.imwrite(str(tmp_path / f"tall{i}.png"), np.zeros((500, 200, 3), np.uint8))
    size, rule = auto_size(sorted(tmp_path.glob("tall*.png")))
    assert size == (640, 256) and "aspect kept" in rule
    for i, (h, w) in enumerate([(300, 200), (200, 300), (250, 250), (200, 500)]):
        cv2.imwrite(str(tmp_path / f"mixed{i}.png"), np.zeros((h, w, 3), np.uint8))
    assert auto_size(sorted(tmp_path.glob("mixed*.png")))[0] == (256, 256)
