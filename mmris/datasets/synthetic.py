"""A deterministic synthetic referring data set in the REFER layout.

``generate_shapes_refer`` draws images of a few coloured shapes on textured
backgrounds and writes them exactly like a RefCOCO download, so that
``RefCOCODataset(dataset='shapes', split_by='unc')`` (and pycocotools) read
them with no special case::

    out_root/
        train2014/shapes_000001.jpg ...
        refer/shapes/refs(unc).p       REFER refs (pickle protocol 2)
        refer/shapes/instances.json    COCO images/annotations/categories
        refer/shapes/scenes.json       what was drawn and the rule of every
                                       sentence (not read by the loaders)
        refer/shapes/summary.json      parameters and counts, written last

Every expression is built from a rule that selects exactly one object of
its image, so only the text tells which object is meant:

* ``attr``: colour / size / shape words ("the small red circle");
* ``size``: a superlative over a group ("the biggest green shape");
* ``pos``: an extreme position in a group ("the leftmost triangle");
* ``rel``: a relation to a unique anchor ("the triangle left of the blue
  square").

A rule is valid only when its lenient reading (any object on the left, any
object of about the largest area) still selects one object and the target
satisfies it by a clear margin (``POS_MARGIN`` of the image side,
``SIZE_RATIO`` in area); :func:`select_objects` is that lenient reading.

Splits (REFER splits whole images): ``train``, ``val`` and ``testOcc`` use
every kind of expression, ``testA`` only appearance (``attr``, ``size``),
``testB`` only location (``pos``, ``rel``). ``testOcc`` has images like
``val`` with grey or noise blocks drawn over the objects; its masks stay the
objects as drawn before the blocks, which is what a robust model should
still segment.

Masks: every object is a polygon (circles with 32 vertices) rasterised by
pycocotools and painted with that very raster in z-order, so the masks are
the drawn pixels exactly (before JPEG). Objects may overlap (different
colours, at least ``MIN_VISIBLE`` of each stays visible); an object covered
by a later one gets the RLE of its visible region (``iscrowd`` 0) instead
of its polygon, all others keep their polygon.

Determinism: every image has its own generator seeded by
``(seed, split, index)``; JPEGs are written with fixed settings, the refs
with pickle protocol 2 and the JSON files with sorted keys, so the same
arguments give the same bytes.
"""
import json
import os
import os.path as osp
import pickle
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

DATASET_NAME = 'shapes'
SPLIT_BY = 'unc'
SPLITS = ('train', 'val', 'testA', 'testB', 'testOcc')
# Expression kinds of each split.
SPLIT_KINDS = {
    'train': ('attr', 'size', 'pos', 'rel'),
    'val': ('attr', 'size', 'pos', 'rel'),
    'testA': ('attr', 'size'),
    'testB': ('pos', 'rel'),
    'testOcc': ('attr', 'size', 'pos', 'rel'),
}
OCCLUDED_SPLITS = ('testOcc', )

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'star')
SHAPE_WORDS = {
    'circle': ('circle', 'disk', 'round shape'),
    'square': ('square', 'box'),
    'triangle': ('triangle', ),
    'diamond': ('diamond', 'rhombus'),
    'star': ('star', ),
}
GENERIC_WORDS = ('shape', 'object', 'thing')
COLORS = {
    'red': (215, 35, 35),
    'green': (35, 160, 55),
    'blue': (35, 75, 215),
    'yellow': (235, 205, 30),
    'purple': (140, 50, 185),
    'orange': (245, 130, 20),
}
COLOR_NAMES = tuple(COLORS)
SIZE_WORDS = {'small': ('small', 'little'), 'big': ('big', 'large')}
# Side-relative scale (sqrt(area / pi)) of the two size classes.
SIZE_SCALES = {'small': (0.075, 0.095), 'big': (0.14, 0.17)}
SUPERLATIVE_WORDS = {
    ('size', 'max'): ('biggest', 'largest'),
    ('size', 'min'): ('smallest', 'tiniest'),
}
POS_TEMPLATES = {
    ('x', 'min'): ('the leftmost {d}', '{d} on the far left',
                   'the {d} furthest to the left'),
    ('x', 'max'): ('the rightmost {d}', '{d} on the far right',
                   'the {d} furthest to the right'),
    ('y', 'min'): ('the topmost {d}', 'the highest {d}', '{d} at the top'),
    ('y', 'max'): ('the bottom {d}', 'the lowest {d}', '{d} at the bottom'),
}
RELATION_WORDS = {
    'left': ('left of', 'to the left of', 'on the left of'),
    'right': ('right of', 'to the right of', 'on the right side of'),
    'above': ('above', 'over'),
    'below': ('below', 'under', 'beneath'),
}
POS_MARGIN = 0.08  # of min(H, W): a clear left/right/above/below
SIZE_RATIO = 1.4  # area ratio for a clear biggest/smallest
MIN_VISIBLE = 0.6  # visible fraction of an overlapped object
CIRCLE_VERTICES = 32
JPEG_KW = dict(format='JPEG', quality=90, subsampling=0, optimize=False)
SPLIT_CODES = {split: i for i, split in enumerate(SPLITS)}


# --------------------------------------------------------------- geometry
def _unit_polygon(shape: str) -> np.ndarray:
    """Vertices [N, 2] (x, y; y down) of a shape of area pi at the origin."""
    if shape == 'circle':
        t = 2 * np.pi * np.arange(CIRCLE_VERTICES) / CIRCLE_VERTICES
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif shape == 'square':
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)
    elif shape == 'diamond':
        pts = np.array([[0, -1.3], [1, 0], [0, 1.3], [-1, 0]], float)
    elif shape == 'triangle':
        t = -np.pi / 2 + 2 * np.pi * np.arange(3) / 3
        pts = np.stack([np.cos(t), np.sin(t)], 1)
        pts[:, 1] += 0.25  # centre the box vertically
    elif shape == 'star':
        t = -np.pi / 2 + np.pi * np.arange(10) / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        pts = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    else:
        raise ValueError(f'unknown shape "{shape}"; valid: {SHAPES}')
    x, y = pts[:, 0], pts[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return pts * np.sqrt(np.pi / area)


UNIT_POLYGONS = {shape: _unit_polygon(shape) for shape in SHAPES}
UNIT_EXTENTS = {
    shape: float(np.abs(p).max())
    for shape, p in UNIT_POLYGONS.items()
}


def _rasterize(poly: List[float], height: int, width: int) -> np.ndarray:
    rle = mask_utils.frPyObjects([poly], height, width)
    return mask_utils.decode(rle)[:, :, 0].astype(bool)


def _background(rng: np.random.Generator, height: int,
                width: int) -> Tuple[np.ndarray, str]:
    """A low-saturation texture: stripes or checks plus noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = rng.uniform(95, 165) + rng.uniform(-10, 10, size=3)
    amp = rng.uniform(10, 25)
    if rng.random() < 0.5:
        kind = 'stripes'
        theta = rng.uniform(0, np.pi)
        freq = rng.uniform(0.15, 0.6)
        pattern = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * freq +
                         rng.uniform(0, 2 * np.pi))
    else:
        kind = 'checks'
        cell = int(rng.integers(6, 17))
        pattern = ((xx // cell + yy // cell) % 2) * 2.0 - 1.0
    noise = rng.normal(0, 6, size=(height, width, 1))
    img = base[None, None, :] + amp * pattern[:, :, None] + noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), kind


# ------------------------------------------------------------------ rules
def _matches(obj: dict, desc: dict) -> bool:
    return all(obj[key] == value for key, value in desc.items())


def select_objects(rule: dict, objects: Sequence[dict],
                   side: float) -> List[int]:
    """Indices of the objects a rule selects under its lenient reading.

    ``objects`` hold ``shape``, ``color``, ``size`` ('small'/'big'),
    ``cx``, ``cy`` (centre, pixels) and ``area`` (full shape, pixels);
    ``side`` is ``min(H, W)``. A rule is unambiguous when this returns one
    index. ``pos``/``size`` rules need a group of two or more.
    """
    kind = rule['kind']
    group = [i for i, o in enumerate(objects) if _matches(o, rule['desc'])]
    if kind == 'attr':
        return group
    if kind in ('size', 'pos'):
        if len(group) < 2:
            return []
        if kind == 'size':
            values = {i: objects[i]['area'] for i in group}
            if rule['order'] == 'max':
                top = max(values.values())
                return [i for i in group if values[i] * SIZE_RATIO > top]
            low = min(values.values())
            return [i for i in group if values[i] < low * SIZE_RATIO]
        key = 'cx' if rule['axis'] == 'x' else 'cy'
        values = {i: objects[i][key] for i in group}
        margin = POS_MARGIN * side
        if rule['order'] == 'min':
            low = min(values.values())
            return [i for i in group if values[i] < low + margin]
        top = max(values.values())
        return [i for i in group if values[i] > top - margin]
    if kind == 'rel':
        anchors = [
            i for i, o in enumerate(objects) if _matches(o, rule['anchor'])
        ]
        if len(anchors) != 1:
            return []
        a = objects[anchors[0]]
        key, sign = {
            'left': ('cx', -1),
            'right': ('cx', 1),
            'above': ('cy', -1),
            'below': ('cy', 1)
        }[rule['relation']]
        return [
            i for i in group
            if i != anchors[0] and sign * (objects[i][key] - a[key]) > 0
        ]
    raise ValueError(f'unknown rule kind "{kind}"')


def _clear(rule: dict, objects: Sequence[dict], target: int,
           side: float) -> bool:
    """The target satisfies the rule by the margin (strict reading)."""
    if rule['kind'] != 'rel':
        return True
    anchor = next(i for i, o in enumerate(objects)
                  if _matches(o, rule['anchor']))
    key, sign = {
        'left': ('cx', -1),
        'right': ('cx', 1),
        'above': ('cy', -1),
        'below': ('cy', 1)
    }[rule['relation']]
    delta = sign * (objects[target][key] - objects[anchor][key])
    return delta > POS_MARGIN * side


def _descs(keys_list: Sequence[Tuple[str, ...]], obj: dict) -> List[dict]:
    return [{key: obj[key] for key in keys} for keys in keys_list]


ATTR_KEYS = (('shape', ), ('color', ), ('size', ), ('color', 'shape'),
             ('size', 'shape'), ('size', 'color'), ('size', 'color', 'shape'))
GROUP_KEYS = ((), ('color', ), ('shape', ))
POS_KEYS = ((), ('color', ), ('shape', ), ('color', 'shape'))
ANCHOR_KEYS = (('color', 'shape'), ('shape', ), ('color', ))


def valid_rules(objects: Sequence[dict], target: int, side: float,
                kinds: Sequence[str]) -> List[dict]:
    """Every rule of the given kinds that selects only ``target``."""
    obj = objects[target]
    candidates = []
    if 'attr' in kinds:
        candidates += [
            dict(kind='attr', desc=d) for d in _descs(ATTR_KEYS, obj)
        ]
    if 'size' in kinds:
        candidates += [
            dict(kind='size', desc=d, order=order)
            for d in _descs(GROUP_KEYS, obj) for order in ('max', 'min')
        ]
    if 'pos' in kinds:
        candidates += [
            dict(kind='pos', desc=d, axis=axis, order=order)
            for d in _descs(POS_KEYS, obj) for axis in ('x', 'y')
            for order in ('min', 'max')
        ]
    if 'rel' in kinds:
        for j, other in enumerate(objects):
            if j == target:
                continue
            for anchor in _descs(ANCHOR_KEYS, other):
                if sum(_matches(o, anchor) for o in objects) != 1:
                    continue
                for d in _descs(POS_KEYS, obj):
                    if _matches(other, d):
                        continue
                    for relation in RELATION_WORDS:
                        candidates.append(
                            dict(
                                kind='rel',
                                desc=d,
                                relation=relation,
                                anchor=anchor))
    return [
        rule for rule in candidates
        if select_objects(rule, objects, side) == [target]
        and _clear(rule, objects, target, side)
    ]


# ------------------------------------------------------------------- text
def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _noun_phrase(rng: np.random.Generator, desc: dict) -> str:
    words = []
    if 'size' in desc:
        words.append(_pick(rng, SIZE_WORDS[desc['size']]))
    if 'color' in desc:
        words.append(desc['color'])
    if 'shape' in desc:
        words.append(_pick(rng, SHAPE_WORDS[desc['shape']]))
    else:
        words.append(_pick(rng, GENERIC_WORDS))
    return ' '.join(words)


def render_rule(rng: np.random.Generator, rule: dict) -> str:
    """One wording of a rule (lower case, no punctuation)."""
    kind = rule['kind']
    d = _noun_phrase(rng, rule['desc'])
    if kind == 'attr':
        templates = ['the {d}', '{d}', 'the {d} in the picture']
        desc = rule['desc']
        if 'color' in desc and 'shape' in desc and 'size' not in desc:
            shape = _pick(rng, SHAPE_WORDS[desc['shape']])
            templates += [
                f'the {shape} that is {desc["color"]}',
                f'the {desc["color"]} colored {shape}'
            ]
        return _pick(rng, templates).format(d=d)
    if kind == 'size':
        sup = _pick(rng, SUPERLATIVE_WORDS[('size', rule['order'])])
        return _pick(rng,
                     ['the {s} {d}', '{s} {d}', 'the {s} {d} of all']).format(
                         s=sup, d=d)
    if kind == 'pos':
        return _pick(rng,
                     POS_TEMPLATES[(rule['axis'], rule['order'])]).format(d=d)
    if kind == 'rel':
        a = _noun_phrase(rng, rule['anchor'])
        rel = _pick(rng, RELATION_WORDS[rule['relation']])
        return _pick(rng, [
            'the {d} {r} the {a}', '{d} {r} the {a}',
            'the {d} that is {r} the {a}'
        ]).format(
            d=d, r=rel, a=a)
    raise ValueError(f'unknown rule kind "{kind}"')


def normalize_sentence(raw: str) -> str:
    """REFER-style ``sent``: lower case, letters/digits only, one space."""
    return ' '.join(re.sub(r'[^a-z0-9 ]+', ' ', raw.lower()).split())


def _raw_variant(rng: np.random.Generator, text: str) -> str:
    variant = int(rng.integers(4))
    if variant in (1, 3):
        text = text[0].upper() + text[1:]
    if variant in (2, 3):
        text += '.'
    return text


def _choose_sentences(rng: np.random.Generator, rules: List[dict],
                      count: int) -> List[Tuple[dict, str]]:
    """Up to ``count`` distinct (rule, text), spread over the rule kinds."""
    by_kind: Dict[str, List[dict]] = {}
    for rule in rules:
        by_kind.setdefault(rule['kind'], []).append(rule)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    chosen, texts = [], set()
    for attempt in range(8 * count):
        if len(chosen) == count:
            break
        pool = by_kind[kinds[attempt % len(kinds)]]
        rule = pool[int(rng.integers(len(pool)))]
        text = render_rule(rng, rule)
        if text not in texts:
            texts.add(text)
            chosen.append((rule, text))
    return chosen


# ------------------------------------------------------------------ scene
def _sample_objects(rng: np.random.Generator,
                    height: int,
                    width: int,
                    num_objects: Tuple[int, int],
                    overlap_prob: float,
                    distinct_colors: bool = False,
                    size_scale: float = 1.0) -> Optional[List[dict]]:
    side = min(height, width)
    n = int(rng.integers(num_objects[0], num_objects[1] + 1))
    # By default a small palette per image makes repeated colours/shapes
    # common, so that relations and superlatives are needed; with
    # ``distinct_colors`` every object has a colour of its own (an easier
    # set: a colour word alone then names one object).
    if distinct_colors:
        colors = list(rng.choice(COLOR_NAMES, size=n, replace=False))
    else:
        colors = list(
            rng.choice(
                COLOR_NAMES, size=int(rng.integers(2, 4)), replace=False))
    shapes = list(
        rng.choice(SHAPES, size=int(rng.integers(2, 4)), replace=False))
    objects = []
    for index in range(n):
        shape = str(_pick(rng, shapes))
        color = colors[index] if distinct_colors else str(_pick(rng, colors))
        size = 'big' if rng.random() < 0.5 else 'small'
        scale = rng.uniform(*SIZE_SCALES[size]) * side * size_scale
        extent = scale * UNIT_EXTENTS[shape]
        may_overlap = rng.random() < overlap_prob
        for _try in range(60):
            cx = rng.uniform(extent + 1, width - extent - 1)
            cy = rng.uniform(extent + 1, height - extent - 1)
            ok = True
            for o in objects:
                dist = np.hypot(cx - o['cx'], cy - o['cy'])
                reach = extent + o['extent']
                if dist >= reach + 2:
                    continue
                if not may_overlap or o['color'] == color or \
                        dist < 0.55 * reach:
                    ok = False
                    break
            if ok:
                break
        else:
            return None
        pts = UNIT_POLYGONS[shape] * scale + np.array([cx, cy])
        poly = [round(float(v), 2) for v in pts.reshape(-1)]
        objects.append(
            dict(
                shape=shape,
                color=color,
                size=size,
                cx=round(float(cx), 2),
                cy=round(float(cy), 2),
                extent=float(extent),
                polygon=poly))
    return objects


def _draw_scene(rng: np.random.Generator,
                height: int,
                width: int,
                num_objects: Tuple[int, int],
                overlap_prob: float,
                distinct_colors: bool = False,
                size_scale: float = 1.0):
    for _attempt in range(200):
        objects = _sample_objects(rng, height, width, num_objects,
                                  overlap_prob, distinct_colors, size_scale)
        if objects is None:
            continue
        fulls = [_rasterize(o['polygon'], height, width) for o in objects]
        covered = np.zeros((height, width), bool)
        visibles = [None] * len(objects)
        for z in range(len(objects) - 1, -1, -1):
            visibles[z] = fulls[z] & ~covered
            covered |= fulls[z]
        if all(v.sum() >= MIN_VISIBLE * f.sum() and v.sum() >= 20
               for v, f in zip(visibles, fulls)):
            break
    else:
        raise RuntimeError('could not place the objects; use a larger '
                           'image_size or fewer objects')
    img, texture = _background(rng, height, width)
    for obj, full in zip(objects, fulls):
        img[full] = COLORS[obj['color']]
    for obj, full, vis in zip(objects, fulls, visibles):
        obj['area'] = int(full.sum())
        obj['occluded'] = bool((full & ~vis).any())
    return img, texture, objects, visibles


def _occlude(rng: np.random.Generator, img: np.ndarray,
             visibles: Sequence[np.ndarray]) -> List[dict]:
    """Grey or noise blocks over every object; returns their boxes."""
    height, width = img.shape[:2]
    blocks = []
    for vis in visibles:
        ys, xs = np.nonzero(vis)
        bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        w = max(3, int(round(bw * rng.uniform(0.3, 0.55))))
        h = max(3, int(round(bh * rng.uniform(0.3, 0.55))))
        k = int(rng.integers(len(xs)))  # centred on a visible pixel
        x0 = int(np.clip(xs[k] - w // 2, 0, width - w))
        y0 = int(np.clip(ys[k] - h // 2, 0, height - h))
        if rng.random() < 0.5:
            kind = 'grey'
            patch = np.full((h, w, 3), int(rng.integers(90, 171)), np.uint8)
        else:
            kind = 'noise'
            grey = rng.integers(0, 256, size=(h, w, 1))
            patch = np.repeat(grey, 3, axis=2).astype(np.uint8)
        img[y0:y0 + h, x0:x0 + w] = patch
        blocks.append(dict(box=[x0, y0, w, h], kind=kind))
    return blocks


def _segmentation(obj: dict, visible: np.ndarray):
    if not obj['occluded']:
        return [obj['polygon']]
    rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
    return dict(
        size=[int(s) for s in rle['size']],
        counts=rle['counts'].decode('ascii'))


# -------------------------------------------------------------- generator
def _image_size(image_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = (int(v) for v in image_size)
    return height, width


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, 'wb') as f:
        f.write(data)


def _dump_json(obj) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(',', ':'),
        ensure_ascii=True).encode('ascii')


def generate_shapes_refer(out_root: str,
                          seed: int = 0,
                          num_train: int = 2000,
                          num_val: int = 200,
                          num_testA: int = 200,
                          num_testB: int = 200,
                          num_testOcc: int = 200,
                          image_size: Union[int, Sequence[int]] = 128,
                          num_objects: Tuple[int, int] = (2, 4),
                          sentences_per_ref: Tuple[int, int] = (2, 3),
                          overlap_prob: float = 0.3,
                          distinct_colors: bool = False,
                          size_scale: float = 1.0) -> dict:
    """Write the synthetic ``shapes`` REFER data set under ``out_root``.

    Args:
        out_root (str): The DATA_PATH to write (``train2014/`` and
            ``refer/shapes/``); only files named ``shapes_*`` and the
            ``refer/shapes`` folder are written.
        seed (int): The seed; the same arguments give the same bytes.
        num_train, num_val, num_testA, num_testB, num_testOcc (int):
            Images per split (REFER splits by image).
        image_size (int | (H, W)): Image size. Defaults to 128.
        num_objects ((int, int)): Objects per image, inclusive range.
        sentences_per_ref ((int, int)): Sentences per referred object,
            inclusive range (fewer only if the object has fewer wordings).
        overlap_prob (float): Probability that an object may overlap others.
        distinct_colors (bool): Give every object of an image its own
            colour (an easier set; ``num_objects`` at most 6). Default:
            False (2-3 colours per image, repeated).
        size_scale (float): Multiplier of the object sizes (both size
            classes; small objects stay smaller than big ones). Default: 1.

    Returns:
        dict: ``params`` and per-split ``splits`` counts (``images``,
        ``refs``, ``sentences``), as also written to ``summary.json``.
    """
    height, width = _image_size(image_size)
    side = min(height, width)
    if distinct_colors and num_objects[1] > len(COLOR_NAMES):
        raise ValueError(f'distinct_colors needs at most {len(COLOR_NAMES)} '
                         f'objects per image, got num_objects={num_objects}')
    if not 0.25 <= size_scale <= 2.0:
        raise ValueError(f'size_scale must be in [0.25, 2], got {size_scale}')
    counts = dict(
        train=num_train,
        val=num_val,
        testA=num_testA,
        testB=num_testB,
        testOcc=num_testOcc)
    img_dir = osp.join(out_root, 'train2014')
    ann_dir = osp.join(out_root, 'refer', DATASET_NAME)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)

    images, annotations, refs, scenes = [], [], [], []
    summary_splits = {}
    image_id = ann_id = ref_id = sent_id = 0
    for split in SPLITS:
        n_refs = n_sents = 0
        for index in range(counts[split]):
            rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
            for _attempt in range(50):
                img, texture, objects, visibles = _draw_scene(
                    rng, height, width, num_objects, overlap_prob,
                    distinct_colors, size_scale)
                per_object = [
                    valid_rules(objects, k, side, SPLIT_KINDS[split])
                    for k in range(len(objects))
                ]
                if any(per_object):
                    break
            else:
                raise RuntimeError(f'{split} #{index}: no referable object')
            blocks = (
                _occlude(rng, img, visibles)
                if split in OCCLUDED_SPLITS else [])
            image_id += 1
            file_name = f'{DATASET_NAME}_{image_id:06d}.jpg'
            buf_path = osp.join(img_dir, file_name)
            Image.fromarray(img).save(buf_path, **JPEG_KW)
            images.append(
                dict(
                    id=image_id,
                    file_name=file_name,
                    height=height,
                    width=width,
                    license=0))
            scene_objects, scene_refs = [], []
            for k, (obj, vis) in enumerate(zip(objects, visibles)):
                ann_id += 1
                obj['ann_id'] = ann_id
                segmentation = _segmentation(obj, vis)
                rle = mask_utils.encode(
                    np.asfortranarray(vis.astype(np.uint8)))
                annotations.append(
                    dict(
                        id=ann_id,
                        image_id=image_id,
                        category_id=SHAPES.index(obj['shape']) + 1,
                        segmentation=segmentation,
                        area=float(mask_utils.area(rle)),
                        bbox=[float(v) for v in mask_utils.toBbox(rle)],
                        iscrowd=0))
                scene_objects.append({
                    key: obj[key]
                    for key in ('ann_id', 'shape', 'color', 'size', 'cx', 'cy',
                                'area', 'occluded')
                })
                scene_objects[-1]['z'] = k
                rules = per_object[k]
                if not rules:
                    continue
                count = int(
                    rng.integers(sentences_per_ref[0],
                                 sentences_per_ref[1] + 1))
                chosen = _choose_sentences(rng, rules, count)
                sentences, scene_sents = [], []
                for rule, text in chosen:
                    raw = _raw_variant(rng, text)
                    sent = normalize_sentence(raw)
                    sentences.append(
                        dict(
                            tokens=sent.split(),
                            raw=raw,
                            sent_id=sent_id,
                            sent=sent))
                    scene_sents.append(dict(sent_id=sent_id, rule=rule))
                    sent_id += 1
                refs.append(
                    dict(
                        sent_ids=[s['sent_id'] for s in sentences],
                        file_name=f'{DATASET_NAME}_{image_id:06d}_'
                        f'{ann_id}.jpg',
                        ann_id=ann_id,
                        ref_id=ref_id,
                        image_id=image_id,
                        split=split,
                        sentences=sentences,
                        category_id=SHAPES.index(obj['shape']) + 1))
                scene_refs.append(
                    dict(ref_id=ref_id, ann_id=ann_id, sentences=scene_sents))
                ref_id += 1
                n_refs += 1
                n_sents += len(sentences)
            scenes.append(
                dict(
                    image_id=image_id,
                    file_name=file_name,
                    split=split,
                    texture=texture,
                    objects=scene_objects,
                    occluders=blocks,
                    refs=scene_refs))
        summary_splits[split] = dict(
            images=counts[split], refs=n_refs, sentences=n_sents)

    instances = dict(
        info=dict(
            description='mmris synthetic shapes referring data set',
            version='1.0',
            seed=seed),
        licenses=[dict(id=0, name='generated, no restriction', url='')],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=shape, supercategory='shape')
            for i, shape in enumerate(SHAPES)
        ])
    params = dict(
        seed=seed,
        image_size=[height, width],
        num_objects=list(num_objects),
        sentences_per_ref=list(sentences_per_ref),
        overlap_prob=overlap_prob,
        distinct_colors=distinct_colors,
        size_scale=size_scale,
        **{f'num_{split}': counts[split]
           for split in SPLITS})
    summary = dict(
        dataset=DATASET_NAME,
        split_by=SPLIT_BY,
        params=params,
        splits=summary_splits,
        files=dict(images=len(images), annotations=len(annotations)))
    _write_bytes(
        osp.join(ann_dir, f'refs({SPLIT_BY}).p'),
        pickle.dumps(refs, protocol=2))
    _write_bytes(osp.join(ann_dir, 'instances.json'), _dump_json(instances))
    _write_bytes(osp.join(ann_dir, 'scenes.json'), _dump_json(scenes))
    # Written last: its presence marks a complete data set.
    _write_bytes(osp.join(ann_dir, 'summary.json'), _dump_json(summary))
    return summary
