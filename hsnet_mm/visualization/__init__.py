# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .contact_sheet import (contact_sheet_pages, make_thumbnail,
                            overlay_thumbnail, write_contact_sheets)
from .episode_drawer import (denormalize, draw_episode, overlay_mask,
                             save_episode_png)

__all__ = [
    'denormalize', 'draw_episode', 'overlay_mask', 'save_episode_png',
    'contact_sheet_pages', 'make_thumbnail', 'overlay_thumbnail',
    'write_contact_sheets'
]
