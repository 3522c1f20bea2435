"""OpenVINO runtime: real sessions on tiny exported models, outputs vs ONNX Runtime, the choice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.models_gen import make_category
from xrbridge import cli
from xrbridge.errors import ArtifactError, ModelError, UsageError
from xrbridge.models import openvino_runtime as ovr
from xrbridge.models.runtime import OnnxModel, load_model

# No skip: openvino is in the dev extra, so CI runs these on real OpenVINO sessions.
SIZE = 64


def _train(root: Path, model: str) -> Path:
    cat = make_category(root, n_train=8, n_good=2, n_bad=2, size=SIZE)
    out = root / "model"
    argv = ["train", "--model", model, "--data", str(cat), "--out", str(out),
            "--image-size", str(SIZE), "--quiet"]  # fmt: skip
    if model.startswith("efficientad"):
        argv += ["--steps", "2", "--distil-steps", "2"]
    assert cli.main(argv) == 0
    return out


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny PatchCore export (most tests: the runtime choice does not depend on the model)."""
    return _train(tmp_path_factory.mktemp("ov-patchcore"), "patchcore")


@pytest.fixture(scope="module", params=["patchcore", "efficientad-s"])
def any_artifact(
    request: pytest.FixtureRequest, artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    if request.param == "patchcore":
        return artifact
    return _train(tmp_path_factory.mktemp(f"ov-{request.param}"), request.param)


def _inputs(n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.standard_normal((1, 3, SIZE, SIZE)).astype(np.float32) for _ in range(n)]


def test_openvino_fp32_matches_onnxruntime(any_artifact: Path) -> None:
    artifact = any_artifact
    ort_model = OnnxModel(artifact, providers=["CPUExecutionProvider"], threads=1, warmup=0)
    ov_model = ovr.OpenVinoModel(artifact, precision="fp32", threads=1, warmup=1)
    assert ov_model.precision == "fp32" and "OpenVINO" in ov_model.provider
    for x in _inputs():
        m_ort, s_ort = ort_model.run(x)
        m_ov, s_ov = ov_model.run(x)
        assert m_ov.shape == m_ort.shape == (SIZE, SIZE) and m_ov.dtype == np.float32
        assert np.abs(m_ov - m_ort).max() < 1e-4
        assert abs(s_ov - s_ort) < 1e-4


def test_openvino_bf16_close_or_reported_as_fp32(any_artifact: Path) -> None:
    artifact = any_artifact
    model = ovr.OpenVinoModel(artifact, precision="bf16", threads=1, warmup=0)
    assert model.requested_precision == "bf16"
    assert model.precision == ("bf16" if ovr.cpu_has_bf16() else "fp32")
    ref = OnnxModel(artifact, providers=["CPUExecutionProvider"], threads=1, warmup=0)
    x = _inputs(1)[0]
    tol = 0.05 if model.precision == "bf16" else 1e-4
    assert np.abs(model.run(x)[0] - ref.run(x)[0]).max() < tol


def test_predict_takes_any_bgr_image_like_onnxruntime(artifact: Path) -> None:
    img = np.random.default_rng(2).integers(0, 255, (90, 70, 3), np.uint8)
    m_ov, s_ov = ovr.OpenVinoModel(artifact, threads=1, warmup=0).predict(img)
    m_ort, s_ort = OnnxModel(artifact, providers=["CPUExecutionProvider"], warmup=0).predict(img)
    assert np.abs(m_ov - m_ort).max() < 1e-4 and abs(s_ov - s_ort) < 1e-4


def test_openvino_refuses_wrong_input(artifact: Path) -> None:
    model = ovr.OpenVinoModel(artifact, threads=1, warmup=0)
    with pytest.raises(ModelError, match="float32"):
        model.run(np.zeros((1, 3, SIZE, SIZE), np.float64))
    with pytest.raises(ModelError, match=r"\(1, 3, 64, 64\)"):
        model.run(np.zeros((1, 3, SIZE + 1, SIZE), np.float32))


@pytest.mark.parametrize("runtime", ["tensorrt", "OpenVINO", ""])
def test_bad_runtime_name_is_refused(artifact: Path, runtime: str) -> None:
    with pytest.raises(UsageError, match=r"unknown runtime .*onnxruntime, openvino"):
        load_model(artifact, runtime=runtime)


def test_bad_precision_is_refused(artifact: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown precision 'int4'.*fp32, bf16"):
        load_model(artifact, runtime="openvino", precision="int4")
    with pytest.raises(UsageError, match="needs runtime openvino"):
        load_model(artifact, runtime="onnxruntime", precision="bf16")


def test_manifest_chooses_the_runtime(artifact: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(artifact, d)
    assert isinstance(load_model(d, warmup=0), OnnxModel)
    man = json.loads((d / "manifest.json").read_text())
    man["runtime"] = {"name": "openvino", "precision": "fp32"}
    (d / "manifest.json").write_text(json.dumps(man))
    chosen = load_model(d, warmup=0, threads=1)
    if "CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers():
        assert isinstance(chosen, OnnxModel)  # the GPU path wins
    else:
        assert isinstance(chosen, ovr.OpenVinoModel)
    assert isinstance(load_model(d, runtime="onnxruntime", warmup=0), OnnxModel)  # flag wins
    man["runtime"] = {"name": "tflite"}
    (d / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ArtifactError, match=r"manifest.json: unknown runtime 'tflite'"):
        load_model(d, warmup=0)


def test_missing_openvino_falls_back_with_a_message(
    artifact: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(ovr, "openvino_available", lambda: False)
    model = load_model(artifact, runtime="openvino", precision="bf16", warmup=0)
    assert isinstance(model, OnnxModel)
    assert "'openvino' package is not installed" in capsys.readouterr().err


def test_openvino_refuses_a_graph_that_disagrees_with_its_manifest(
    artifact: Path, tmp_path: Path
) -> None:
    d = tmp_path / "m"
    shutil.copytree(artifact, d)
    man = json.loads((d / "manifest.json").read_text())
    man["score_normalization"]["image"]["max"] += 1.0
    (d / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ArtifactError, match="disagree on 'score_normalization'"):
        ovr.OpenVinoModel(d, warmup=0)


def test_bench_and_eval_take_the_runtime_flags(
    artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            [
                "bench",
                "--model",
                str(artifact),
                "--runs",
                "3",
                "--warmup",
                "1",
                "--threads",
                "1",
                "--runtime",
                "openvino",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["runtime"] == "OpenVinoModel" and out["provider"] == "OpenVINO CPU fp32"
    assert out["p50_ms"] > 0
    assert cli.main(["bench", "--model", str(artifact), "--runtime", "tflite"]) == 2
    assert "unknown runtime 'tflite'" in capsys.readouterr().err
    cat = artifact.parent / "gen"
    metrics = {}
    for rt in ("onnxruntime", "openvino"):
        assert (
            cli.main(
                [
                    "eval",
                    "--model",
                    str(artifact),
                    "--data",
                    str(cat),
                    "--out",
                    str(tmp_path / rt),
                    "--no-report",
                    "--no-progress",
                    "--runtime",
                    rt,
                ]
            )
            == 0
        )
        metrics[rt] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("image_auroc", "pixel_auroc"):
        if key in metrics["onnxruntime"]:
            assert abs(metrics["onnxruntime"][key] - metrics["openvino"][key]) < 1e-6
