# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A dataset whose episodes depend on the seed, a model that scores them,
and a stand-in Runner: enough for MultiSeedTestLoop and the test report."""
from types import SimpleNamespace
from typing import List

import torch
from torch import nn
from torch.utils.data import Dataset

#: The ground truth of every episode (4 pixels).
GT = [1, 1, 0, 0]
#: The prediction of the episodes of seed 0 (exact) and 1 (half the fg):
#: seed 0 scores mIoU 100 and FB-IoU 100; seed 1 mIoU 50 and FB-IoU
#: (2/3 + 1/2) / 2 = 58.33.
PREDICTIONS = {0: [1, 1, 0, 0], 1: [1, 0, 0, 0]}


class SeededEpisodes(Dataset):
    """Six episodes of classes 0 and 1 (alternating), drawn by seed."""

    def __init__(self, classes=('cat', 'dog'), fold=2, shot=1) -> None:
        self.metainfo = dict(classes=classes, fold_class_ids=[0, 1], fold=fold)
        self.num_folds = 4
        self.shot = shot
        self.episode_sampling = 'official'
        self.seed = 0
        self.seeds_set: List[int] = []

    def set_episode_seed(self, seed: int) -> None:
        self.seed = seed
        self.seeds_set.append(seed)

    def __len__(self) -> int:
        return 6

    def __getitem__(self, idx: int) -> dict:
        return dict(idx=idx, class_id=idx % 2, seed=self.seed)


class ScoringModel(nn.Module):
    """``test_step``: the FewShotMetric input of each episode of a batch."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = []

    def test_step(self, batch: List[dict]) -> List[dict]:
        outputs = []
        for item in batch:
            self.seen.append((item['seed'], item['idx']))
            outputs.append(
                dict(
                    class_id=item['class_id'],
                    episode_idx=item['idx'],
                    pred_sem_seg=dict(
                        data=torch.tensor([PREDICTIONS[item['seed']]])),
                    gt_sem_seg=dict(data=torch.tensor([GT]))))
        return outputs


def fake_runner(model=None, test_dataloader=None, test_loop=None):
    """What the loop and the report read of a Runner; hooks are recorded
    in ``runner.hooks``."""
    hooks = []
    return SimpleNamespace(
        hooks=hooks,
        call_hook=lambda name, **kwargs: hooks.append(name),
        model=model or ScoringModel(),
        visualizer=SimpleNamespace(dataset_meta=None),
        test_dataloader=test_dataloader,
        test_loop=test_loop)
