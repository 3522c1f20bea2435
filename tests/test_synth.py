"""``xrbridge synth``: defects drawn into real pixels, masks that match them, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrbridge.cli import main
from xrbridge.names import DEFECTS
from xrbridge.synth import (
    DefectParams,
    Track,
    detect_tracks,
    render_defect,
    sample,
    tracks_from_roi,
)
from xrbridge.synth.blend import light_direction, noise_sigma, poisson_fill
from xrbridge.synth.camera import estimate_jpeg
from xrbridge.synth.tracks import rasterize

W, H = 200, 140
BEADS = [
    Track("r1", np.array([[12.0, 40.0], [100.0, 34.0], [188.0, 44.0]]), 9.0),
    Track("r2", np.array([[20.0, 104.0], [180.0, 100.0]]), 8.0),
]


def scene_image(seed: int) -> np.ndarray:
    """Brushed grey metal with two bright dome-shaded beads, lit from the top left."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    metal = 95 + 0.1 * xx + 8 * np.sin(yy / 23.0) + rng.normal(0, 3, (H, W))
    height = np.zeros((H, W), np.float32)
    for tr in BEADS:
        m = rasterize([tr], (H, W))
        d = cv2.distanceTransform((m > 0).astype(np.uint8), cv2.DIST_L2, 5)
        height = np.maximum(height, np.sqrt(np.clip(d / (tr.width / 2), 0, 1)) * tr.width / 2)
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0) / 8
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1) / 8
    shade = 1.0 + 0.5 * (-gx * -0.6 - gy * -0.8)
    bead = (height > 0).astype(np.float32)
    grey = metal * (1 - bead) + (175 * shade + rng.normal(0, 3, (H, W))) * bead
    grey = cv2.GaussianBlur(grey, (0, 0), 0.7)
    img = np.clip(np.stack([grey * 0.97, grey, grey * 1.03], -1), 0, 255).astype(np.uint8)
    return img


def make_category(
    root: Path, n_train: int = 2, n_test: int = 3, paths: bool = True, roi: bool = False
) -> Path:
    for split, n, base in (("train", n_train, 0), ("test", n_test, 100)):
        d = root / split / "good"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(d / f"{split}{i:02d}.png"), scene_image(base + i))
    if paths:
        doc = {"version": 1, "image_size": [W, H], "regions": [t.to_dict() for t in BEADS]}
        (root / "paths.json").write_text(json.dumps(doc))
    if roi:
        cv2.imwrite(str(root / "roi.png"), rasterize(BEADS, (H, W), extra=6.0))
    return root


def params(typ: str, track: Track, s0: float = 50.0) -> DefectParams:
    w = track.width
    amount = {
        "missing": 0.0,
        "misalignment": 1.7 * w,
        "bifurcation": 0.7 * w,
        "narrowing": 0.45,
        "hole": 0.6,
    }[typ]
    length = 0.85 * w if typ == "hole" else 3.3 * w
    return DefectParams(typ, "medium", track.name, s0, length, amount, 1, 3.0)


def jpeg_image(img: np.ndarray, quality: int, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``img`` as a camera that compressed a larger frame would leave it: a JPEG
    round trip whose block grid starts ``shift`` (x, y) px before the image."""
    sx, sy = shift
    big = np.pad(img, ((sy, 0), (sx, 0), (0, 0)), mode="reflect")
    ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[sy:, sx:]


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("typ", DEFECTS)
def test_mask_matches_the_changed_pixels(typ: str, compressed: bool) -> None:
    img = jpeg_image(scene_image(1), 70, (3, 5)) if compressed else scene_image(1)
    fit = estimate_jpeg(img)
    assert (fit is not None) == compressed
    tr = BEADS[0]
    light = light_direction(img, [(sample(t).p, sample(t).n, t.width / 2) for t in BEADS])
    out, mask = render_defect(
        img, sample(tr), tr.width, params(typ, tr), np.random.default_rng(0), light, fit
    )
    changed = np.abs(out.astype(np.int16) - img).max(-1) > 0
    inside = mask > 0
    assert out.shape == img.shape and out.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 255}
    # nothing changes outside the mask ...
    assert not (changed & ~inside).any()
    # ... and the mask is not bigger than the change: most of it is visibly changed
    visible = np.abs(out.astype(np.int16) - img).max(-1) > 8
    assert visible[inside].mean() > (0.15 if typ == "hole" else 0.3), visible[inside].mean()
    n, _ = cv2.connectedComponents(mask)
    assert n == 2  # one defect, one region
    # ... an area, without holes: metal it encloses belongs to it
    n_bg, _ = cv2.connectedComponents((mask == 0).astype(np.uint8))
    assert n_bg == 2
    # the defect sits on the bead it was drawn on
    bead = rasterize([tr], img.shape[:2]) > 0
    assert (bead & inside).sum() > 0.5 * min(bead.sum(), inside.sum()) * 0.2


@pytest.mark.parametrize("quality", [55, 75, 90])
def test_jpeg_quality_and_grid_are_recovered(quality: int) -> None:
    img = jpeg_image(scene_image(3), quality, (6, 11))
    fit = estimate_jpeg(img)
    assert fit is not None
    assert fit.quality == quality
    assert fit.phase == (10, 5)  # the grid's first full block starts 16 - shift px in


def test_drawn_patch_has_the_images_noise_and_blocks() -> None:
    """Inside the mask the fine-scale noise measures like outside (30 % + 0.3 grey levels)."""
    img = jpeg_image(scene_image(4), 65, (2, 7))
    fit = estimate_jpeg(img)
    tr = BEADS[0]
    out, m = render_defect(
        img,
        sample(tr),
        tr.width,
        params("missing", tr),
        np.random.default_rng(0),
        np.array([-0.6, -0.8]),
        fit,
    )
    metal = rasterize(BEADS, img.shape[:2], extra=10.0) == 0
    inside = (m > 0) & (rasterize([tr], img.shape[:2], extra=1.0) > 0)
    outside = metal & (cv2.dilate(m, np.ones((25, 25), np.uint8)) > 0) & (m == 0)
    s_in = noise_sigma(out.astype(np.float32), inside)
    s_out = noise_sigma(img.astype(np.float32), outside)
    assert abs(s_in - s_out) < 0.3 * s_out + 0.3, (s_in, s_out)


def test_defects_change_what_they_say() -> None:
    img = scene_image(2)
    tr = BEADS[0]
    sp = sample(tr)
    light = np.array([-0.6, -0.8])
    grey = lambda a: a.astype(np.float32).mean(-1)  # noqa: E731
    bead = rasterize([tr], img.shape[:2]) > 0
    # missing: the bead's bright pixels are gone over the stretch
    out, m = render_defect(
        img, sp, tr.width, params("missing", tr), np.random.default_rng(0), light
    )
    sel = bead & (m > 0)
    assert grey(out)[sel].mean() < grey(img)[sel].mean() - 40
    # misalignment: bright pixels appear off the bead
    out, m = render_defect(
        img, sp, tr.width, params("misalignment", tr), np.random.default_rng(0), light
    )
    off = ~rasterize([tr], img.shape[:2], extra=2.0).astype(bool) & (m > 0)
    assert (grey(out)[off] > 150).sum() > 60
    # narrowing: fewer bright pixels in the mask, none new outside the bead
    out, m = render_defect(
        img, sp, tr.width, params("narrowing", tr), np.random.default_rng(0), light
    )
    inside = m > 0
    assert (grey(out)[inside] > 150).sum() < 0.75 * (grey(img)[inside] > 150).sum()
    # hole: a dark void inside the bead
    out, m = render_defect(img, sp, tr.width, params("hole", tr), np.random.default_rng(0), light)
    assert grey(out)[m > 0].min() < grey(img)[m > 0].min() - 20


def test_a_holes_walls_lie_in_its_well() -> None:
    """Around a void the bead is darker than its flanks at the same distance from an
    edge: the walls see only the sky over the void's opening (the previous code read
    their look off the flank as it is: 0.85 of it, with the void's blurred edge; now
    0.76)."""
    tr = BEADS[0]
    sp = sample(tr)
    p = params("hole", tr)
    r0, mid = tr.width / 2, p.s0 + p.length / 2
    a, b = p.length / 2, r0 * p.amount
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    pix = np.stack([xx.ravel(), yy.ravel()], 1)
    k = np.argmin(((pix[:, None, :] - sp.p[None, ::2, :]) ** 2).sum(-1), 1) * 2
    s = sp.s[k].reshape(H, W)
    t = ((pix - sp.p[k]) * sp.n[k]).sum(1).reshape(H, W)
    u, v = (s - mid) / a, t / b
    rho = np.sqrt(u * u + v * v)
    d_void = (rho - 1) * np.maximum(rho, 1e-6) / np.sqrt((u / a) ** 2 + (v / b) ** 2 + 1e-12)
    ring = (d_void > 0.5) & (d_void < 1.5) & (np.abs(t) < r0 - 1.0)
    flank = (np.abs(r0 - np.abs(t) - 1.0) < 0.5) & (np.abs(s - mid) > 15) & (np.abs(s - mid) < 35)
    for seed in (2, 3, 4):
        img = scene_image(seed)
        out, _ = render_defect(
            img, sp, tr.width, p, np.random.default_rng(0), np.array([-0.6, -0.8])
        )
        grey = out.astype(np.float32).mean(-1)
        ratio = grey[ring].mean() / img.astype(np.float32).mean(-1)[flank].mean()
        assert ratio < 0.8, ratio


def _half_contrast_width(grey: np.ndarray, sp, s_mid: float, half: float) -> float:
    """Median full width at half contrast of the bead across ``sp`` near ``s_mid``."""
    ts = np.arange(-12.0, 12.01, 0.25)
    sel = np.abs(sp.s - s_mid) < half
    pts = sp.p[sel][:, None, :] + sp.n[sel][:, None, :] * ts[None, :, None]
    prof = cv2.remap(
        grey, pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32), cv2.INTER_LINEAR
    )
    c = prof - np.median(np.concatenate([prof[:, :8], prof[:, -8:]], 1), 1, keepdims=True)
    return float(np.median((c >= 0.5 * c.max(1, keepdims=True)).sum(1) * 0.25))


@pytest.mark.parametrize("amount", [1.0, 0.55, 0.38])
def test_narrowing_scales_the_beads_seen_width(amount: float) -> None:
    """A narrowing by ``amount`` leaves the bead ``amount`` as wide as it looks in the
    image (its half-contrast width), not as the paths file's width says: the nominal
    width here is 1.3 x the drawn bead's; 1.0 changes nothing visible."""
    img = scene_image(5)
    tr = BEADS[0]
    wide = Track(tr.name, tr.points, 1.3 * tr.width)
    sp = sample(wide)
    p = DefectParams("narrowing", "large", tr.name, 40.0, 60.0, amount, 1, 3.0)
    out, _ = render_defect(img, sp, wide.width, p, np.random.default_rng(0), np.array([-0.6, -0.8]))
    grey = lambda a: cv2.GaussianBlur(a.astype(np.float32).mean(-1), (0, 0), 0.5)  # noqa: E731
    w0 = _half_contrast_width(grey(img), sp, 70.0, 8.0)
    w1 = _half_contrast_width(grey(out), sp, 70.0, 8.0)
    # (the image's blur widens a thinner bead's look a little, as the camera would)
    assert amount - 0.05 < w1 / w0 < amount + (0.03 if amount == 1.0 else 0.15), (w0, w1)


def test_contact_shadow_is_read_from_the_bead_outwards() -> None:
    """A shadow that lightens away from the bead is learnt; a dark groove further
    out, past lit metal, is surface: that side gets no shadow."""
    from xrbridge.synth.defects import shadow_profile

    t = np.tile(np.arange(-20.0, 20.01, 0.25), (40, 1))
    r0 = 5.0
    d = np.abs(t) - r0
    gray = np.full(t.shape, 120.0, np.float32)
    plus, minus = t > 0, t < 0
    gray[plus] -= (40.0 * np.exp(-np.clip(d, 0, None) / 2.0))[plus]  # a contact shadow
    gray[minus & (np.abs(d - 6.0) < 1.0)] = 50.0  # a groove 5-7 px past the edge
    where = d >= 0
    _, f_plus, f_minus = shadow_profile(gray, t, where, r0, 10.0)
    assert f_plus[0] < 0.75 and f_plus[-1] > 0.98  # dark at the bead, lit further out
    assert np.all(np.diff(f_plus) >= -1e-6)
    assert np.allclose(f_minus, 1.0)  # the groove is not a shadow


def test_metal_edge_stops_short_of_a_rail() -> None:
    """Past the bead's contact shadow the metal is open; a rail further out walls
    that side in, and the edge stays before it."""
    from xrbridge.synth.defects import metal_edge

    t = np.tile(np.arange(-20.0, 20.01, 0.25), (40, 1))
    r0 = 5.0
    d = np.abs(t) - r0
    gray = np.full(t.shape, 120.0, np.float32)
    gray -= 30.0 * np.exp(-np.clip(d, 0, None) / 1.5)  # contact shadow, both sides
    gray[(t > 0) & (np.abs(d - 6.0) < 1.0)] = 45.0  # a rail 5-7 px past the + edge
    (e_p, wall_p, peak_p), (e_m, wall_m, _) = metal_edge(gray, t, d >= 0, (r0, r0), 3 * r0)
    assert wall_p and not wall_m
    assert r0 + 1.0 < e_p <= peak_p < r0 + 5.0  # past the shadow, before the rail
    assert r0 + 1.0 < e_m <= 3 * r0


def test_missing_bead_in_a_channel_is_filled_with_open_metal() -> None:
    """A bead laid between two dark rails: where it is missing, the surface is the
    metal of the channel, not the rails' dark smeared inwards."""
    rng = np.random.default_rng(4)
    h, w = 90, 160
    yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
    tt = yy - 45.0
    grey = 120.0 + rng.normal(0, 2.5, (h, w))
    grey[(tt > 8.0) & (tt < 11.0)] = 45.0  # rails, one close to the bead
    grey[(tt < -10.0) & (tt > -13.0)] = 45.0
    grey[np.abs(tt) <= 4.0] = 200.0 - 4.0 * np.abs(tt[np.abs(tt) <= 4.0])
    grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 0.8)
    img = np.clip(np.dstack([grey] * 3), 0, 255).astype(np.uint8)
    tr = Track("c", np.array([[5.0, 45.0], [155.0, 45.0]]), 8.0)
    p = DefectParams("missing", "large", "c", 50.0, 50.0, 0.0, 1, 2.0, seam=0.0)
    out, m = render_defect(img, sample(tr), 8.0, p, np.random.default_rng(0), np.array([0, -1.0]))
    g = out.astype(np.float32).mean(-1)
    gap = g[41:50, 65:95]  # where the bead was, mid-stretch
    assert abs(float(np.median(gap)) - 120.0) < 10.0, np.median(gap)
    assert float(np.percentile(gap, 5)) > 95.0  # no dark smear from the rails
    assert (m > 0)[41:50, 65:95].all()


def test_a_moved_bead_uncovers_the_joint_it_sealed() -> None:
    """Where a misaligned bead has left its footprint, the panel joint under it shows
    as a thin darker line along the old centre; with no joint (seam 0) there is none."""
    img = scene_image(6)
    tr = BEADS[1]  # straight, y ~ 104 .. 100
    sp = sample(tr)
    light = np.array([-0.6, -0.8])
    p = params("misalignment", tr, s0=40.0)
    grey = lambda a: a.astype(np.float32).mean(-1)  # noqa: E731
    mid = np.abs(sp.s - (p.s0 + p.length / 2)) < 0.2 * p.length
    pts, nrm = sp.p[mid], sp.n[mid]

    def across(a: np.ndarray, off: float) -> float:
        q = pts + nrm * off
        return float(
            np.median(grey(a)[np.round(q[:, 1]).astype(int), np.round(q[:, 0]).astype(int)])
        )

    for seam in (0.0, 0.45):
        q = DefectParams(p.type, p.size, p.region, p.s0, p.length, p.amount, -1, p.pad, seam)
        out, _ = render_defect(img, sp, tr.width, q, np.random.default_rng(0), light)
        dip = 0.5 * (across(out, -2.5) + across(out, 2.5)) - across(out, 0.0)
        assert (dip > 15.0) if seam else (abs(dip) < 6.0), (seam, dip)


def test_a_far_displaced_beads_mask_holds_the_metal_it_encloses() -> None:
    """Moved 2.2 widths, the bead leaves unchanged metal between its old and new
    place; the mask is the defect's area (as a hand-drawn one), without that hole."""
    img = scene_image(1)
    tr = BEADS[0]
    p = DefectParams("misalignment", "large", tr.name, 50.0, 5 * tr.width, 2.2 * tr.width, 1, 3.0)
    out, m = render_defect(
        img, sample(tr), tr.width, p, np.random.default_rng(0), np.array([-0.6, -0.8])
    )
    n_bg, _ = cv2.connectedComponents((m == 0).astype(np.uint8))
    assert n_bg == 2
    changed = np.abs(out.astype(np.int16) - img).max(-1) > 0
    assert not (changed & (m == 0)).any()


def test_poisson_fill_meets_the_boundary_without_a_seam() -> None:
    _, xx = np.mgrid[0:40, 0:40].astype(np.float32)
    target = np.dstack([50 + xx] * 3)
    region = np.zeros((40, 40), bool)
    region[10:30, 10:30] = True
    guide = np.zeros_like(target)  # flat guide: the membrane interpolates the ramp
    out = poisson_fill(target, guide, region, ~region)
    assert np.abs(out - target).max() < 0.1


def test_detection_finds_the_beads() -> None:
    img = scene_image(3)
    tracks, mask = detect_tracks(img)
    truth = rasterize(BEADS, img.shape[:2]) > 0
    iou = (truth & (mask > 0)).sum() / (truth | (mask > 0)).sum()
    assert len(tracks) >= 2 and iou > 0.5, (len(tracks), iou)
    roi_tracks = tracks_from_roi(img, rasterize(BEADS, img.shape[:2], extra=6.0))
    assert len(roi_tracks) == 2
    for t in roi_tracks:
        assert 5.0 <= t.width <= 12.0, t.width


def run_cli(*argv: str) -> int:
    return main(["synth", "--no-progress", *map(str, argv)])


def test_cli_writes_an_mvtec_set_whose_masks_match(tmp_path: Path, capsys) -> None:
    cat = make_category(tmp_path / "cat")
    out = tmp_path / "out"
    prev = tmp_path / "grid.png"
    assert run_cli("--data", cat, "--out", out, "--count", 10, "--seed", 3, "--preview", prev) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["defective_images"] == 10 and summary["sealant"] == "paths"
    assert len(list((out / "train" / "good").glob("*.png"))) == 2
    assert len(list((out / "test" / "good").glob("*.png"))) == 3
    labels = json.loads((out / "labels.json").read_text())["images"]
    n = 0
    for typ in DEFECTS:
        for p in sorted((out / "test" / typ).glob("*.png")):
            n += 1
            lab = labels[p.stem]
            assert lab["category"] == typ and lab["split"] == "test"
            d = lab["defects"][0]
            assert d["type"] == typ and d["size"] in ("small", "medium", "large")
            assert d["region"] in ("r1", "r2") and d["length"] > 0
            img = cv2.imread(str(p))
            src = cv2.imread(str(cat / lab["source"]))
            mask = cv2.imread(str(out / "ground_truth" / typ / f"{p.stem}_mask.png"), 0)
            changed = np.abs(img.astype(np.int16) - src).max(-1) > 0
            assert mask.any() and not (changed & (mask == 0)).any()
            assert changed[mask > 0].mean() > 0.3
    assert n == 10
    assert cv2.imread(str(prev)).shape[0] > 100
    # same seed, same data set; another seed, another one
    out2 = tmp_path / "out2"
    assert run_cli("--data", cat, "--out", out2, "--count", 10, "--seed", 3) == 0
    out3 = tmp_path / "out3"
    assert run_cli("--data", cat, "--out", out3, "--count", 10, "--seed", 4) == 0
    capsys.readouterr()
    same = [
        (out / "test" / t / p.name).read_bytes() == p.read_bytes()
        for t in DEFECTS
        for p in (out2 / "test" / t).glob("*.png")
    ]
    assert same and all(same)
    assert json.loads((out3 / "labels.json").read_text()) != json.loads(
        (out / "labels.json").read_text()
    )


def test_cli_options_types_size_per_image(tmp_path: Path, capsys) -> None:
    cat = make_category(tmp_path / "cat")
    out = tmp_path / "out"
    assert (
        run_cli(
            "--data",
            cat,
            "--out",
            out,
            "--types",
            "hole,missing",
            "--size",
            "large",
            "--per-image",
            2,
            "--count",
            4,
        )
        == 0
    )
    labels = json.loads((out / "labels.json").read_text())["images"]
    bad = [v for v in labels.values() if v["category"] != "good"]
    assert len(bad) == 4 and {v["category"] for v in bad} == {"hole", "missing"}
    for v in bad:
        assert len(v["defects"]) == 2 and all(d["size"] == "large" for d in v["defects"])
        assert {d["region"] for d in v["defects"]} == {"r1", "r2"}  # regions in turn
    assert not any((out / "test" / "narrowing").glob("*"))


def test_cli_roi_and_detection_sources(tmp_path: Path, capsys) -> None:
    cat = make_category(tmp_path / "cat", paths=False, roi=True)
    assert run_cli("--data", cat, "--out", tmp_path / "o1", "--count", 2) == 0
    assert json.loads(capsys.readouterr().out)["sealant"] == "roi"
    assert (
        run_cli("--data", cat, "--out", tmp_path / "o2", "--count", 2, "--sealant", "detect") == 0
    )
    assert json.loads(capsys.readouterr().out)["sealant"] == "detect"


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("xrbridge synth: error:")
    return err


def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    (empty / "train" / "good").mkdir(parents=True)
    assert run_cli("--data", empty, "--out", tmp_path / "o") == 2
    assert "no good images" in _one_line_error(capsys)

    flat = tmp_path / "flat"
    (flat / "test" / "good").mkdir(parents=True)
    cv2.imwrite(str(flat / "test" / "good" / "a.png"), np.full((H, W, 3), 120, np.uint8))
    assert run_cli("--data", flat, "--out", tmp_path / "o") == 2
    assert "--paths" in _one_line_error(capsys)

    cat = make_category(tmp_path / "cat")
    doc = json.loads((cat / "paths.json").read_text())
    doc["regions"][0]["points"][1] = [250.0, 30.0]
    (cat / "paths.json").write_text(json.dumps(doc))
    assert run_cli("--data", cat, "--out", tmp_path / "o") == 2
    err = _one_line_error(capsys)
    assert "outside" in err and "r1" in err and "200x140" in err

    assert run_cli("--data", cat, "--out", tmp_path / "o", "--types", "crack") == 2
    assert "missing" in _one_line_error(capsys)
    assert run_cli("--data", cat, "--out", cat / "sub") == 2
    assert "outside --data" in _one_line_error(capsys)
