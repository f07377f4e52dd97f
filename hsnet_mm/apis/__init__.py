# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .few_shot_inferencer import FewShotInferencer
from .inference import init_model
from .inference_episode import inference_episode
from .show_result import show_episode_result

__all__ = [
    'init_model', 'inference_episode', 'show_episode_result',
    'FewShotInferencer'
]
