# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .annotation_writers import (build_coco, image_record, labelme_shapes,
                                 mask_to_rle, rle_to_mask, write_labelme,
                                 write_png_mask)
from .few_shot_inferencer import FewShotInferencer
from .folder_labelling import format_summary, label_folder
from .inference import init_model
from .inference_episode import inference_episode
from .labelling_inputs import is_video, list_inputs
from .show_result import show_episode_result

__all__ = [
    'init_model', 'inference_episode', 'show_episode_result',
    'FewShotInferencer', 'label_folder', 'format_summary', 'list_inputs',
    'is_video', 'build_coco', 'image_record', 'labelme_shapes', 'mask_to_rle',
    'rle_to_mask', 'write_labelme', 'write_png_mask'
]
