# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The web demo's Gradio app (``elem_id`` values are used by the browser
test).

The prediction over the query is the main output; the per-shot votes are in
a closed accordion. "Add as support" puts the last query with its
prediction (painted on a layer the user may correct, or replaced by an
uploaded mask) into a support slot: the first empty one, or the slot
chosen; when all are full, it says so.
"""
import io
from typing import Dict, List, Sequence

import gradio as gr
from web_episode import (MAX_SHOTS, as_support, check_image_file, free_slot,
                         segment)

from hsnet_mm.utils import UserError

FIRST_EMPTY = 'first empty slot'


def _checked(src, name: str):
    """``check_image_file`` with its message as the UI's error."""
    try:
        return check_image_file(src, name)
    except UserError as e:
        raise gr.Error(str(e)) from e


def image_upload(name: str, **kwargs) -> gr.Image:
    """A gr.Image whose upload is handed on as its file path after a
    check of its header (an image of an accepted format, within the pixel
    limit): Gradio decodes nothing, and a refusal names the field, not a
    server path."""
    component = gr.Image(
        type='filepath', image_mode=None, sources=['upload'], **kwargs)
    # an instance attribute, not a subclass: Gradio writes a .pyi stub next
    # to the source file of every component class it sees defined
    component.preprocess = lambda payload: (None
                                            if payload is None else _checked(
                                                payload.path, name))
    return component


def support_editor(name: str, **kwargs) -> gr.ImageEditor:
    """A gr.ImageEditor whose images are checked (header only, as
    ``image_upload``) before Gradio decodes them."""
    component = gr.ImageEditor(
        type='numpy', format='png', sources=['upload'], **kwargs)
    convert = component.convert_and_format_image

    def checked(file, flatten_on_white: bool = False):
        if file is not None:
            _checked(
                file.path if hasattr(file, 'path') else io.BytesIO(
                    bytes(file)), name)
        return convert(file, flatten_on_white)

    component.convert_and_format_image = checked
    return component


def _slot_choice(choice: str):
    return None if choice == FIRST_EMPTY else int(choice.split()[-1]) - 1


def build_demo(model, examples: List[Dict]) -> gr.Blocks:
    """The app.

    Args:
        model: The segmentor.
        examples (list[dict]): Example episodes (``queries``, ``supports``,
            ``masks``: paths in a folder of the demo's own).
    """

    def run(query, *args):
        editors, masks = args[:MAX_SHOTS], args[MAX_SHOTS:2 * MAX_SHOTS]
        try:
            return segment(model, query, editors, masks, args[2 * MAX_SHOTS])
        except UserError as e:
            raise gr.Error(str(e)) from e

    def add(last, choice, *editors):
        """Pick the slot and show it (its editor draws the new layer only
        when visible); ``fill`` then puts the support in."""
        try:
            slot = free_slot(editors, _slot_choice(choice))
            value = as_support(last)
        except UserError as e:
            return gr.update(), str(e), None
        return gr.Tabs(selected=slot), (
            f'the query is now support {slot + 1}: correct its mask by '
            f'painting or erasing, then Segment again'), (slot, value)

    def fill(pending):
        updates = [gr.update()] * (2 * MAX_SHOTS)
        if pending is not None:
            slot, value = pending
            updates[slot] = value
            updates[MAX_SHOTS + slot] = None  # the painted layer is the mask
        return updates

    with gr.Blocks(
            title='hsnet-mm few-shot segmentation',
            delete_cache=(600, 3600)) as demo:
        gr.Markdown('# hsnet-mm: few-shot segmentation\nUpload a query and '
                    'one to five supports; give each support a mask by '
                    'uploading it or by painting over the object.')
        last = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                query = image_upload(
                    'query', label='query', height=260, elem_id='query')
                editors, masks = [], []
                with gr.Tabs() as tabs:
                    for k in range(MAX_SHOTS):
                        with gr.Tab(f'support {k + 1}', id=k):
                            editors.append(
                                support_editor(
                                    f'support {k + 1}',
                                    label=f'support {k + 1} (paint the '
                                    'object)',
                                    height=320,
                                    elem_id=f'support-{k}'))
                            masks.append(
                                image_upload(
                                    f'mask {k + 1}',
                                    label=f'mask {k + 1}',
                                    height=160,
                                    elem_id=f'mask-{k}'))
                opacity = gr.Slider(0, 1, value=0.5, label='opacity')
                button = gr.Button(
                    'Segment', variant='primary', elem_id='run-button')
            with gr.Column(scale=3, min_width=420):
                result = gr.Image(
                    label='prediction',
                    format='png',
                    interactive=False,
                    height=560,
                    elem_id='result')
                summary = gr.Textbox(
                    label='summary', lines=1, elem_id='summary')
                with gr.Row():
                    slot = gr.Dropdown(
                        [FIRST_EMPTY] +
                        [f'support {k + 1}' for k in range(MAX_SHOTS)],
                        value=FIRST_EMPTY,
                        label='add to',
                        elem_id='slot-choice')
                    add_button = gr.Button(
                        'Add as support', elem_id='add-button')
                message = gr.Textbox(
                    label='add as support', lines=1, elem_id='add-message')
                with gr.Accordion('per-shot votes', open=False):
                    votes = gr.Gallery(
                        label='per-shot votes',
                        format='png',
                        columns=MAX_SHOTS,
                        height=200,
                        elem_id='votes')
        inputs = [query, *editors, *masks, opacity]
        button.click(run, inputs, [result, votes, summary, last])
        pending = gr.State(None)
        add_button.click(add, [last, slot, *editors],
                         [tabs, message, pending]).then(
                             fill, pending, [*editors, *masks])
        gr.Examples(
            _example_rows(examples),
            inputs,
            label='example episodes (synthetic)')
    return demo


def _example_rows(examples: Sequence[Dict]) -> List[list]:
    rows = []
    for ep in examples:
        pad = [None] * (MAX_SHOTS - len(ep['supports']))
        for q in ep['queries']:
            rows.append([q, *ep['supports'], *pad, *ep['masks'], *pad, 0.5])
    return rows
