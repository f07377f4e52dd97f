# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Score a trained model against the baselines a few-shot model must beat.

Runs the config's test episodes once and evaluates, with the same
``FewShotMetric``:

- ``model``: the checkpoint, as ``tools/test.py`` does;
- ``support of another class``: the same model, each episode given the
  support images and masks of an episode of another class (does the model
  read the support, or segment whatever looks like an object?);
- ``untrained``: the config's model before training (a fresh learner; a
  frozen backbone keeps the checkpoint's weights);
- ``all foreground`` / ``all background``: constant predictions.

Example::

    python tools/analysis_tools/few_shot_baselines.py \
        configs/hsnet/hsnet_r18_synthetic_1shot.py work_dirs/demo/best.pth
"""
import argparse
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData

import hsnet_mm  # noqa: F401  (registers the components)
from hsnet_mm.apis import init_model
from hsnet_mm.utils import (UserError, atomic_dump_json, check_test_dataset,
                            check_writable, read_config, result_environment,
                            run_cli)

VARIANTS = ('model', 'support of another class', 'untrained', 'all foreground',
            'all background')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', help='write the table as JSON')
    parser.add_argument('--seed', type=int, default=0, help='untrained init')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def other_class_order(class_ids: List[int],
                      pool_ids: List[int] = None) -> List[int]:
    """For each episode, the index of a pool episode of another class.

    The pool is the batch itself followed by spare episodes (so a batch of
    one episode works too); the nearest next pool entry of another class is
    taken.
    """
    pool_ids = list(class_ids) if pool_ids is None else pool_ids
    order = []
    for i, c in enumerate(class_ids):
        j = next((k % len(pool_ids) for k in range(i + 1, i + len(pool_ids))
                  if pool_ids[k % len(pool_ids)] != c), None)
        if j is None:
            raise UserError('supports of another class need episodes of at '
                            'least two classes')
        order.append(j)
    return order


def constant_predictions(samples, value: int):
    """Copies of ``samples`` predicting ``value`` everywhere."""
    out = []
    for ds in samples:
        ds = ds.clone()
        gt = ds.gt_sem_seg.data
        ds.pred_sem_seg = PixelData(data=torch.full_like(gt, value))
        out.append(ds)
    return out


def spare_episodes(dataset, preprocess) -> Tuple[dict, List[int]]:
    """Two episodes of two classes: supports for a batch of one class."""
    ids = [dataset.get_data_info(0)['class_id']]
    other = next((j for j in range(1, len(dataset))
                  if dataset.get_data_info(j)['class_id'] != ids[0]), None)
    if other is None:
        raise UserError('supports of another class need episodes of at '
                        'least two classes')
    ids.append(dataset.get_data_info(other)['class_id'])
    data = preprocess(pseudo_collate([dataset[0], dataset[other]]), False)
    return data['inputs'], ids


@torch.no_grad()
def evaluate_all(cfg: Config, checkpoint: str,
                 seed: int) -> Dict[str, Dict[str, float]]:
    """Evaluate every variant on the test episodes of ``cfg``."""
    model = init_model(cfg, checkpoint)
    torch.manual_seed(seed)
    untrained = init_model(cfg.copy())  # init_weights() of a fresh model
    if getattr(model.backbone, 'frozen', False):
        untrained.backbone.load_state_dict(model.backbone.state_dict())
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluators = {}
    for name in VARIANTS:
        evaluators[name] = Evaluator(dict(type='FewShotMetric'))
        evaluators[name].dataset_meta = loader.dataset.metainfo
    spare, spare_ids = spare_episodes(loader.dataset, model.data_preprocessor)
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        ids = [ds.metainfo['class_id'] for ds in samples]
        order = other_class_order(ids, ids + spare_ids)
        swapped = dict(inputs)
        for key in ('support_imgs', 'support_masks'):
            swapped[key] = torch.cat([inputs[key], spare[key]])[order]
        results = {
            'model':
            model.predict(inputs, [ds.clone() for ds in samples]),
            'support of another class':
            model.predict(swapped, [ds.clone() for ds in samples]),
            'untrained':
            untrained.predict(inputs, [ds.clone() for ds in samples]),
            'all foreground':
            constant_predictions(samples, 1),
            'all background':
            constant_predictions(samples, 0),
        }
        for name, outputs in results.items():
            evaluators[name].process(outputs, batch)
    return {
        name: ev.evaluate(len(loader.dataset))
        for name, ev in evaluators.items()
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = read_config(args.config, args.cfg_options)
    check_writable(args.out)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    check_test_dataset(cfg)  # missing data or an impossible episode set
    # the table below replaces the metric's per-variant logs
    MMLogger.get_instance('few_shot_baselines', log_level='WARNING')
    table = evaluate_all(cfg, args.checkpoint, args.seed)
    print(f'\n{"":<26}{"mIoU":>8}{"FB-IoU":>9}')
    for name, metrics in table.items():
        print(f'{name:<26}{metrics["mIoU"]:>8.2f}{metrics["FB-IoU"]:>9.2f}')
    if args.out:
        atomic_dump_json(args.out,
                         dict(table, environment=result_environment()))
    return 0


if __name__ == '__main__':
    run_cli(main)
