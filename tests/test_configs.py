# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Every shipped config builds: model, datasets, optimizer, one episode."""
import ast
from pathlib import Path
from typing import List

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS
from PIL import Image

import hsnet_mm  # noqa: F401
from hsnet_mm.evaluation import FewShotMetric
# tiny generated benchmark trees (session fixtures)
from tests.helpers import REPO_ROOT

# the user-folder config is built by tests/test_folder_config.py
CONFIGS = sorted(
    p for p in (REPO_ROOT / 'configs' / 'hsnet').glob('*.py')
    if '_folder_' not in p.name)
_MODELS = {}


def test_the_paper_grid_is_shipped():
    names = {p.stem for p in CONFIGS}
    expected = {
        f'hsnet_{bb}_pascal5i_fold{f}_{k}shot'
        for bb in ('vgg16', 'r50', 'r101')
        for f in range(4)
        for k in (1, 5)
    } | {
        f'hsnet_{bb}_coco20i_fold{f}_{k}shot'
        for bb in ('r50', 'r101')
        for f in range(4)
        for k in (1, 5)
    } | {
        f'hsnet_{bb}_fss1000_{k}shot'
        for bb in ('vgg16', 'r50', 'r101')
        for k in (1, 5)
    } | {'hsnet_r18_synthetic_1shot'} | {
        f'hsnet_{bb}_pascal5i_fold0_{k}shot'
        for bb in ('swin-t', 'mit-b2')  # FeatureTapBackbone
        for k in (1, 5)
    }
    assert names == expected


def build_model(cfg):
    key = str(cfg.model)
    if key not in _MODELS:
        _MODELS[key] = MODELS.build(cfg.model)
    return _MODELS[key]


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds(path: Path, request):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    init_default_scope('mmseg')
    name = path.stem
    roots = dict(
        pascal5i='pascal_root', coco20i='coco_root', fss1000='fss_root')
    bench = next((b for b in roots if f'_{b}_' in name), None)
    fold = int(name.split('fold')[1][0]) if 'fold' in name else 0
    shot = 5 if name.endswith('5shot') else 1
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        assert ds_cfg.fold == fold
        # HSNet trains and validates 1-shot; only the test is K-shot
        assert ds_cfg.shot == (shot if split == 'test' else 1)
        if bench is not None:
            ds_cfg.data_root = str(request.getfixturevalue(roots[bench]))
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) > 0
    episode = dataset[0]
    assert episode['inputs']['support_imgs'].shape[0] == shot
    if bench is not None:
        assert cfg.test_dataloader.dataset.episode_sampling == 'official'
        assert tuple(episode['inputs']['query_img'].shape) == (3, 400, 400)
    model = build_model(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert wrapper.optimizer.defaults['lr'] == 1e-3
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable
    if bench is not None:  # frozen ImageNet backbone, loaded by URL
        assert model.backbone.frozen
        backbone = cfg.model.backbone.get('backbone', cfg.model.backbone)
        assert backbone.init_cfg.checkpoint.startswith('https://')


def base_files(path: Path) -> List[Path]:
    """The ``_base_`` files a config names (read with ``ast``)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, 'id', None) == '_base_' for t in node.targets):
            value = ast.literal_eval(node.value)
            names = [value] if isinstance(value, str) else list(value)
            return [(path.parent / n).resolve() for n in names]
    return []


def inheritance_depth(path: Path) -> int:
    """Files on the longest ``_base_`` chain, the config itself included."""
    return 1 + max((inheritance_depth(b) for b in base_files(path)), default=0)


def test_configs_are_at_most_3_levels_deep():
    every = sorted((REPO_ROOT / 'configs').rglob('*.py'))
    assert inheritance_depth(REPO_ROOT / 'configs' / 'hsnet' /
                             'hsnet_r101_pascal5i_fold1_5shot.py') == 3
    too_deep = {
        str(p.relative_to(REPO_ROOT)): inheritance_depth(p)
        for p in every if inheritance_depth(p) > 3
    }
    assert not too_deep, f'configs deeper than 3 levels: {too_deep}'
    # one primitive per _base_ folder: the primitives inherit nothing
    primitives = [p for p in every if '_base_' in p.parts]
    assert primitives and all(not base_files(p) for p in primitives)


def episodes(dataset) -> List[tuple]:
    """(class, query, supports) of every episode of ``dataset``."""
    keys = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        keys.append((info['class_id'], info['query_name'],
                     tuple(info['support_names'])))
    return keys


@pytest.mark.parametrize('name,root', [('pascal5i', 'pascal_root'),
                                       ('coco20i', 'coco_root')])
def test_validation_is_the_official_test_episodes(name, root, request):
    """As the official train.py: validate on the 1000 seed-0 test episodes
    (1-shot, also for the 5-shot configs)."""
    init_default_scope('mmseg')
    data_root = str(request.getfixturevalue(root))
    cfg = Config.fromfile(REPO_ROOT / 'configs' / 'hsnet' /
                          f'hsnet_r50_{name}_fold1_5shot.py')
    built = {}
    for split in ('val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        built[split] = DATASETS.build(
            dict(ds_cfg, data_root=data_root, shot=1))
    assert len(built['val']) == 1000
    assert episodes(built['val']) == episodes(built['test'])
    # the documented switch (configs/_base_/datasets): fewer or other ones
    val = cfg.val_dataloader.dataset
    first = DATASETS.build(dict(val, data_root=data_root, num_episodes=300))
    assert episodes(first) == episodes(built['test'])[:300]
    other = DATASETS.build(dict(val, data_root=data_root, episode_seed=1))
    assert episodes(other) != episodes(built['test'])


def write_fss_tree(root: Path, num_val: int) -> None:
    """An FSS-1000 tree with ``num_val`` val categories of 10 images."""
    rng = np.random.default_rng(0)
    cats = dict(
        trn=['trn_cat'],
        val=[f'val_{i:03d}' for i in range(num_val)],
        test=['test_cat'])
    for split, names in cats.items():
        (root / 'splits' / 'fss').mkdir(parents=True, exist_ok=True)
        (root / 'splits' / 'fss' / f'{split}.txt').write_text(''.join(
            f'{c}\n' for c in names))
    for cat in cats['val']:
        (root / cat).mkdir()
        for n in range(1, 11):
            img = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            mask = np.zeros((8, 8), np.uint8)
            mask[1:3 + n % 5, 2:6] = 255
            Image.fromarray(img).save(root / cat / f'{n}.jpg')
            Image.fromarray(mask).save(root / cat / f'{n}.png')


def test_fss_validation_scores_every_val_image(tmp_path):
    """A perfect prediction on the FSS-1000 val set scores 100 mIoU: the
    validation covers every val category (it covered the first 30 of 240
    with 300 episodes, so a perfect model scored 12.5)."""
    init_default_scope('mmseg')
    write_fss_tree(tmp_path, num_val=40)  # 400 val images > 300
    cfg = Config.fromfile(REPO_ROOT / 'configs' / 'hsnet' /
                          'hsnet_r50_fss1000_5shot.py')
    ds_cfg = dict(cfg.val_dataloader.dataset, data_root=str(tmp_path))
    small = [
        dict(type='LoadEpisode'),
        dict(type='ResizeEpisode', scale=(16, 16)),
        dict(type='PackEpisodeInputs')
    ]
    dataset = DATASETS.build(dict(ds_cfg, pipeline=small))
    assert len(dataset) == 400
    metric = FewShotMetric()
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        sample.pred_sem_seg = sample.gt_sem_seg
        metric.process({}, [sample])
    scores = metric.compute_metrics(metric.results)
    assert scores == {'mIoU': 100.0, 'FB-IoU': 100.0}
