# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Thumbnails with their masks, laid out in pages of a bounded size."""
import numpy as np
from PIL import Image

from hsnet_mm.visualization.contact_sheet import (LABEL_HEIGHT, MASK_COLOR,
                                                  contact_sheet_pages,
                                                  make_thumbnail,
                                                  overlay_thumbnail,
                                                  write_contact_sheets)


def test_thumbnail_keeps_aspect_and_marks_the_mask():
    img = np.full((300, 600, 3), 100, np.uint8)
    thumb = make_thumbnail(img, 160)
    assert thumb.shape == (80, 160, 3)
    small = np.zeros((20, 30, 3), np.uint8)
    assert make_thumbnail(small, 160).shape == (20, 30, 3)  # never enlarged
    assert make_thumbnail(np.zeros((1, 900, 3), np.uint8)).shape[0] == 1
    mask = np.zeros((300, 600), np.uint8)
    mask[:, :300] = 1  # left half
    marked = overlay_thumbnail(thumb, mask)
    assert np.array_equal(marked[:, 80:], thumb[:, 80:])
    red = np.round(100 * 0.5 + np.array(MASK_COLOR) * 0.5)
    assert np.array_equal(marked[:, :80].reshape(-1, 3)[0], red)
    assert np.array_equal(thumb[0, 0], [100, 100, 100])  # not changed


def test_pages_are_bounded_and_streamed():
    items = ((f'img{i}.png', np.full((40 + i, 50, 3), i, np.uint8), i == 3)
             for i in range(8))
    pages = list(contact_sheet_pages(items, cols=3, rows=2, cell=64))
    assert len(pages) == 2  # 6 per page
    assert pages[0].shape == (2 * (64 + LABEL_HEIGHT), 3 * 64, 3)
    assert pages[1].shape == (1 * (64 + LABEL_HEIGHT), 3 * 64, 3)
    # the fourth name (an empty prediction) is drawn in the mask colour
    strip = pages[0][64 + LABEL_HEIGHT + 64:, :64]
    assert (np.abs(strip.astype(int) - MASK_COLOR).sum(-1) < 60).any()
    assert list(contact_sheet_pages(iter([]))) == []


def test_write_one_page_then_several_then_one(tmp_path):

    def items(n):
        return [(f'a/{i}.jpg', np.zeros((10, 10, 3), np.uint8), False)
                for i in range(n)]

    one = write_contact_sheets(items(3), str(tmp_path), cols=2, rows=2)
    assert one == [str(tmp_path / 'contact_sheet.jpg')]
    several = write_contact_sheets(items(9), str(tmp_path), cols=2, rows=2)
    assert [p.rsplit('/', 1)[1] for p in several
            ] == [f'contact_sheet_{i:03d}.jpg' for i in (1, 2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.rsplit('/', 1)[1] for p in several)  # the single page went
    with Image.open(several[0]) as page:
        assert page.format == 'JPEG' and page.size == (2 * 160, 2 * 176)
    write_contact_sheets(items(1), str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ['contact_sheet.jpg']
    assert write_contact_sheets([], str(tmp_path / 'none')) == []
