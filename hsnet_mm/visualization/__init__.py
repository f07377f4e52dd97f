# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .episode_drawer import (denormalize, draw_episode, overlay_mask,
                             save_episode_png)

__all__ = ['denormalize', 'draw_episode', 'overlay_mask', 'save_episode_png']
