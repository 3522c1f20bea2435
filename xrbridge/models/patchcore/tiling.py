"""Tiling for small defects on large images: overlapping tiles through the backbone, stitched.

When the native images are much larger than the model input (say 1024 x 1024 parts
resized to 256 x 256), a defect a few pixels wide shrinks below one 8-pixel feature
cell. With ``tiles`` R x C the model input becomes R x C tiles of the base size
(``tile_h`` x ``tile_w``, the size the input would have had) sharing ``overlap``
pixels with their neighbours, so the image is analysed at (nearly) R times the
resolution. Each tile goes through the backbone as one batch; the patch features are
stitched back into one grid before the memory-bank search ("overlap-tile": each grid
cell takes the features of the tile in which it lies farthest from the border, where
the backbone's padding does not reach), so the search, the image score, the ROI and the
position statistics see one (H/8, W/8) grid as without tiles. All of it is static
slicing and concatenation inside the exported graph: ``model.onnx`` stays the whole
model, its input is the stitched size H x W.

Cost: R*C tiles of the base size (backbone) plus an R*C times larger search, about
(R*C) x the untiled model (2 x 2 tiles: ~4.3x with the default 32-pixel overlap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

#: auto: tile when the native images are at least this many times the base input size
#: on both axes (median over the sampled training images). At 2x (mpdd_metal_plate's
#: 512 px for a 256 px input) 2 x 2 tiles gave AUPRO +2.5 points, no better image
#: AUROC, for ~6x the latency: not a default (docs/models.md).
TILE_MIN_FACTOR = 3.0
#: auto: at most this many tiles per axis (2 x 2 = ~4x the untiled cost per image).
TILE_MAX_PER_AXIS = 2


@dataclass(frozen=True, slots=True)
class TilePlan:
    """R x C tiles of ``tile`` (h, w) pixels overlapping by ``overlap`` pixels.

    ``size``: the stitched model input (H, W) = (R*th - (R-1)*ov, C*tw - (C-1)*ov).
    """

    rows: int
    cols: int
    tile: tuple[int, int]
    overlap: int

    @property
    def size(self) -> tuple[int, int]:
        th, tw = self.tile
        ov = self.overlap
        return (self.rows * th - (self.rows - 1) * ov, self.cols * tw - (self.cols - 1) * ov)

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "cols": self.cols,
            "tile": list(self.tile),
            "overlap": self.overlap,
            "input": list(self.size),
        }


def parse_tiles(value: str) -> tuple[int, int] | None:
    """ "auto" -> None; "1" -> (1, 1); "RxC" -> (R, C); "N" -> (N, N).

    Raises:
        ValueError: anything else, or a count outside 1..8.
    """
    v = str(value).strip().lower()
    if v == "auto":
        return None
    parts = v.split("x")
    if len(parts) not in (1, 2) or not all(p.isdigit() for p in parts):
        raise ValueError(f"tiles must be 'auto', N or RxC (e.g. 2x2), got {value!r}")
    r, c = int(parts[0]), int(parts[-1])
    if not (1 <= r <= 8 and 1 <= c <= 8):
        raise ValueError(f"tiles: 1 to 8 per axis, got {value!r}")
    return r, c


def auto_grid(base: tuple[int, int], native: tuple[float, float]) -> tuple[int, int]:
    """Tiles per axis for a base input (h, w) and the native image size (h, w).

    Tiling only when the native image is at least :data:`TILE_MIN_FACTOR` times the base
    size on both axes; then ``floor(factor)`` tiles per axis, at most
    :data:`TILE_MAX_PER_AXIS` (the smaller axis factor decides both, so the tiles keep
    the base aspect ratio).
    """
    factor = min(native[0] / base[0], native[1] / base[1])
    if factor < TILE_MIN_FACTOR:
        return 1, 1
    n = int(min(factor, TILE_MAX_PER_AXIS))
    return n, n


def plan_for_input(size: tuple[int, int], grid: tuple[int, int], overlap: int) -> TilePlan:
    """The plan whose stitched input is ``size`` (a given --image-size) with ``grid`` tiles.

    Raises:
        ValueError: the tiles would not be multiples of 32 pixels.
    """
    (h, w), (r, c) = size, grid
    if r == 1 and c == 1:
        return TilePlan(1, 1, (h, w), 0)
    th, tw = (h + (r - 1) * overlap) / r, (w + (c - 1) * overlap) / c
    if th != int(th) or tw != int(tw) or int(th) % 32 or int(tw) % 32:
        raise ValueError(
            f"input {h}x{w} does not split into {r}x{c} tiles of multiples of 32 px "
            f"with {overlap} px overlap (tile {th:g}x{tw:g})"
        )
    return TilePlan(r, c, (int(th), int(tw)), overlap)


def _spans(n: int, tile: int, overlap: int, stride: int) -> list[tuple[int, int, int, int]]:
    """Per tile along one axis: (pixel start, pixel end, first kept cell, end of kept cells),
    cells counted in the tile's own grid; the kept ranges tile the stitched grid exactly."""
    cells, ov = tile // stride, overlap // stride
    out = []
    for i in range(n):
        start = i * (tile - overlap)
        lo = ov // 2 if i > 0 else 0
        hi = cells - (ov - ov // 2) if i < n - 1 else cells
        out.append((start, start + tile, lo, hi))
    return out


class TiledFeatures(nn.Module):
    """Wraps a (B,3,h,w) -> (B,D,h/s,w/s) feature module: (1,3,H,W) -> (1,D,H/s,W/s) by tiles.

    ``forward`` (B must be 1 in the graph; training passes any B) splits the input by
    ``plan``, runs ``features`` on all tiles as one batch and stitches the grids.
    """

    def __init__(self, features: nn.Module, plan: TilePlan, stride: int) -> None:
        super().__init__()
        if plan.overlap % (2 * stride):
            raise ValueError(f"tile overlap must be a multiple of {2 * stride}, got {plan.overlap}")
        self.features = features
        self.plan = plan
        self.stride = stride
        self.rows = _spans(plan.rows, plan.tile[0], plan.overlap, stride)
        self.cols = _spans(plan.cols, plan.tile[1], plan.overlap, stride)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B*R*C,3,th,tw), tiles of one image consecutive (row-major)."""
        tiles = [x[:, :, y0:y1, x0:x1] for y0, y1, _, _ in self.rows for x0, x1, _, _ in self.cols]
        b = x.shape[0]
        return torch.stack(tiles, dim=1).reshape(b * len(tiles), x.shape[1], *self.plan.tile)

    def stitch(self, f: torch.Tensor) -> torch.Tensor:
        """(B*R*C,D,th/s,tw/s) -> (B,D,H/s,W/s): each tile's kept cells, concatenated."""
        n = self.plan.count
        f = f.reshape(-1, n, *f.shape[1:])
        rows = []
        for i, (_, _, ylo, yhi) in enumerate(self.rows):
            cells = [
                f[:, i * len(self.cols) + j, :, ylo:yhi, xlo:xhi]
                for j, (_, _, xlo, xhi) in enumerate(self.cols)
            ]
            rows.append(torch.cat(cells, dim=-1))
        return torch.cat(rows, dim=-2)

    def run(self, fn: nn.Module | object, x: torch.Tensor) -> torch.Tensor:
        """Split, apply ``fn`` (a callable on a tile batch), stitch."""
        return self.stitch(fn(self.split(x)))  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(self.features, x)


def native_size(paths: list[object], sample: int = 24) -> tuple[float, float] | None:
    """Median (height, width) of up to ``sample`` images spread over ``paths`` (None: none read)."""
    from xrbridge.models.data import sample_shapes

    shapes = sample_shapes(paths, sample)
    if not shapes:
        return None
    med = np.median(np.asarray(shapes, np.float64), axis=0)
    return float(med[0]), float(med[1])
