# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Render the synthetic few-shot images in memory with numpy.

A class is a (colour family, shape, texture) triple. An image of class ``c``
shows one object of ``c`` and a few distractor objects of other classes of
the split on a cluttered, low-saturation background. Target and distractors
share one size and depth distribution, so only the support tells which
object to segment. The label map holds ``class + 1`` per object pixel, 0
elsewhere, like a PASCAL index mask.
"""
import colorsys
from typing import List, Sequence, Tuple

import numpy as np

from ..utils.cli import UserError

#: Colour families: (name, hue in degrees).
COLOUR_FAMILIES = (('red', 0), ('orange', 28), ('yellow', 56), ('green', 120),
                   ('cyan', 180), ('blue', 228), ('purple', 275), ('magenta',
                                                                   318))
SHAPES = ('circle', 'square', 'triangle', 'flower', 'ring', 'cross')
TEXTURES = ('solid', 'stripes', 'checker', 'dots')
MAX_CLASSES = len(COLOUR_FAMILIES) * len(SHAPES) * len(TEXTURES)


def class_specs(num_classes: int) -> List[Tuple[int, int, int]]:
    """(colour, shape, texture) indices of classes ``0..num_classes-1``.

    Consecutive classes cycle through the colours, then the shapes; the
    texture mixes both so that every fold (see :func:`class_fold`) sees every
    colour, shape and texture.
    """
    if not 2 <= num_classes <= MAX_CLASSES:
        raise UserError(f'num_classes must be in 2..{MAX_CLASSES}, got '
                        f'{num_classes}')
    nc, ns, nt = len(COLOUR_FAMILIES), len(SHAPES), len(TEXTURES)
    specs = []
    for i in range(num_classes):
        colour, shape = i % nc, (i // nc) % ns
        specs.append(
            (colour, shape, (colour + 2 * shape + i // (nc * ns)) % nt))
    return specs


def class_fold(spec: Tuple[int, int, int], num_folds: int) -> int:
    """The fold that holds out a class: (colour + shape) mod folds."""
    return (spec[0] + spec[1]) % num_folds


def class_name(spec: Tuple[int, int, int]) -> str:
    """e.g. ``'red-stripes-circle'``."""
    return (f'{COLOUR_FAMILIES[spec[0]][0]}-{TEXTURES[spec[2]]}-'
            f'{SHAPES[spec[1]]}')


def _rgb(hue: float, sat: float, val: float) -> np.ndarray:
    return np.array(
        colorsys.hsv_to_rgb(hue % 360 / 360, sat, val), dtype=np.float32) * 255


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray,
                r: float) -> np.ndarray:
    """Inside test of a shape of circumradius ``r`` in rotated coords."""
    if shape == 'circle':
        return u * u + v * v <= r * r
    if shape == 'square':
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8 * r
    if shape == 'triangle':
        inside = np.ones(u.shape, bool)
        for ang in (-np.pi / 2, np.pi / 6, 5 * np.pi / 6):
            inside &= u * np.cos(ang) + v * np.sin(ang) <= 0.5 * r
        return inside
    if shape == 'flower':
        rho = np.sqrt(u * u + v * v)
        return rho <= r * (0.7 + 0.3 * np.cos(5 * np.arctan2(v, u)))
    if shape == 'ring':
        rho2 = u * u + v * v
        return (rho2 <= r * r) & (rho2 >= (0.55 * r)**2)
    au, av = np.abs(u), np.abs(v)
    return ((au <= r) & (av <= 0.34 * r)) | ((au <= 0.34 * r) & (av <= r))


def _texture(texture: str, u: np.ndarray, v: np.ndarray,
             period: float) -> np.ndarray:
    """1 where the texture darkens the object, 0 elsewhere."""
    if texture == 'stripes':
        return np.floor(u / period) % 2
    if texture == 'checker':
        return (np.floor(u / period) + np.floor(v / period)) % 2
    if texture == 'dots':
        du = u % period - period / 2
        dv = v % period - period / 2
        return (du * du + dv * dv <= (0.32 * period)**2).astype(np.float32)
    return np.zeros(u.shape, np.float32)


class SyntheticRenderer:
    """Deterministic renderer: image ``(class, index)`` from ``seed``.

    Called as an ``image_source`` by :class:`LoadEpisode` with the image name
    ``'c<class>/<index>'``; returns ``(img, label)``.

    Args:
        seed (int): Seed of the images.
        img_size (tuple[int, int]): (H, W) of every image.
        specs (Sequence[tuple]): :func:`class_specs` of all classes.
        distractor_classes (Sequence[int]): Classes distractors come from.
        num_distractors (tuple[int, int]): Min and max distractors.
        distinct_colours (bool): Distractors never share the target's colour
            family.
    """

    def __init__(self, seed: int, img_size: Tuple[int, int],
                 specs: Sequence[Tuple[int, int, int]],
                 distractor_classes: Sequence[int],
                 num_distractors: Tuple[int,
                                        int], distinct_colours: bool) -> None:
        self.seed = int(seed)
        self.img_size = tuple(int(s) for s in img_size)
        self.specs = [tuple(s) for s in specs]
        self.distractor_classes = list(distractor_classes)
        self.num_distractors = tuple(num_distractors)
        self.distinct_colours = distinct_colours

    @staticmethod
    def image_name(class_id: int, index: int) -> str:
        return f'c{class_id:03d}/{index:05d}'

    def __call__(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        """Render the image called ``name`` (any prefix is ignored)."""
        parts = str(name).replace('\\', '/').split('/')
        try:
            class_id, index = int(parts[-2][1:]), int(parts[-1])
        except (IndexError, ValueError):
            raise UserError(f'not a synthetic image name: {name!r} '
                            f'(expected c<class>/<index>)')
        return self.render(class_id, index)

    def _background(self, rng: np.random.Generator, yy: np.ndarray,
                    xx: np.ndarray) -> np.ndarray:
        h, w = self.img_size
        c1, c2 = (
            _rgb(
                rng.uniform(0, 360), rng.uniform(0, 0.25),
                rng.uniform(0.3, 0.85)) for _ in range(2))
        ang = rng.uniform(0, 2 * np.pi)
        t = (xx * np.cos(ang) + yy * np.sin(ang)) / max(h, w) * 0.7 + 0.5
        img = c1 + (c2 - c1) * t[..., None]
        for _ in range(rng.integers(6, 13)):
            colour = _rgb(
                rng.uniform(0, 360), rng.uniform(0, 0.3),
                rng.uniform(0.2, 0.95))
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            a, b = rng.uniform(0.03, 0.3) * h, rng.uniform(0.01, 0.08) * w
            ang = rng.uniform(0, np.pi)
            u = (xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)
            v = (cx - xx) * np.sin(ang) + (yy - cy) * np.cos(ang)
            blob = (u / a)**2 + (v / b)**2 <= 1
            img[blob] = 0.35 * img[blob] + 0.65 * colour
        return img

    def _place(self, rng: np.random.Generator,
               radii: List[float]) -> List[Tuple[float, float, float]]:
        """Centres for objects of ``radii``, little overlap; may drop some."""
        h, w = self.img_size
        placed: List[Tuple[float, float, float]] = []
        for r in radii:
            for _ in range(30):
                cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
                if all((cy - y)**2 + (cx - x)**2 >= (0.9 * (r + q))**2
                       for y, x, q in placed):
                    placed.append((cy, cx, r))
                    break
        return placed

    def render(self, class_id: int,
               index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Render image ``index`` of ``class_id``.

        Returns:
            tuple: ``img`` (H, W, 3) uint8 RGB and ``label`` (H, W) uint8
            with ``class + 1`` on object pixels.
        """
        if not 0 <= class_id < len(self.specs):
            raise UserError(f'synthetic class {class_id} does not exist')
        rng = np.random.default_rng([self.seed, class_id, index])
        h, w = self.img_size
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = self._background(rng, yy, xx)
        colour = self.specs[class_id][0]
        pool = [
            c for c in self.distractor_classes if c != class_id and (
                not self.distinct_colours or self.specs[c][0] != colour)
        ]
        lo, hi = self.num_distractors
        count = min(int(rng.integers(lo, hi + 1)), len(pool))
        objects = [class_id] + [
            pool[i] for i in rng.choice(len(pool), count, replace=False)
        ]
        size = min(h, w)
        radii = [rng.uniform(0.12, 0.2) * size for _ in objects]
        placed = self._place(rng, radii)
        label = np.zeros((h, w), np.uint8)
        for k in rng.permutation(len(placed)):
            self._draw(rng, img, label, objects[k], placed[k], yy, xx)
        img += rng.standard_normal((h, w, 3), dtype=np.float32) * 6
        return np.clip(img, 0, 255).astype(np.uint8), label

    def _draw(self, rng: np.random.Generator, img: np.ndarray,
              label: np.ndarray, class_id: int, where: Tuple[float, float,
                                                             float],
              yy: np.ndarray, xx: np.ndarray) -> None:
        """Paint one textured object and its label."""
        colour, shape, texture = self.specs[class_id]
        cy, cx, r = where
        h, w = label.shape
        y0, y1 = max(int(cy - r) - 1, 0), min(int(cy + r) + 2, h)
        x0, x1 = max(int(cx - r) - 1, 0), min(int(cx + r) + 2, w)
        ang = rng.uniform(0, 2 * np.pi)
        dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        u = dx * np.cos(ang) + dy * np.sin(ang)
        v = dy * np.cos(ang) - dx * np.sin(ang)
        inside = _shape_mask(SHAPES[shape], u, v, r)
        period = max(3.0, min(h, w) / rng.uniform(14, 20))
        dark = _texture(TEXTURES[texture], u, v, period)
        rgb = _rgb(COLOUR_FAMILIES[colour][1] + rng.uniform(-10, 10),
                   rng.uniform(0.75, 1), rng.uniform(0.8, 1))
        patch = rgb * (1 - 0.55 * dark)[..., None]
        img[y0:y1, x0:x1][inside] = patch[inside]
        label[y0:y1, x0:x1][inside] = class_id + 1
