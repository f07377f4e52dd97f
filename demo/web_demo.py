# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Web demo: upload a query and 1-5 annotated supports, see the mask.

Usage::

    python demo/web_demo.py CONFIG CHECKPOINT [--host 127.0.0.1] [--port N]

Needs Gradio (``pip install -r requirements/optional.txt``, pinned). Each
support gets its mask from an uploaded mask file or, when none is uploaded,
from the strokes painted over the image in its editor (any painted pixel is
the object). The example episodes are written by ``make_examples.py`` at
start into a temporary folder (or ``--examples-dir``). The server binds to
127.0.0.1 unless ``--host`` says otherwise.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np

from hsnet_mm.apis import inference_episode, init_model
from hsnet_mm.apis.episode_inputs import to_rgb
from hsnet_mm.utils import check_device, check_writable, run_cli
from hsnet_mm.visualization.episode_drawer import (PRED_COLOR, SUPPORT_COLOR,
                                                   overlay_mask)

DEMO_DIR = osp.dirname(osp.abspath(__file__))
MAX_SHOTS = 5


def painted_mask(editor: Optional[dict]) -> Optional[np.ndarray]:
    """Union of the painted layers of an ImageEditor value, (H, W) 0/1.

    Returns None when nothing is painted.
    """
    if not editor:
        return None
    layers = [np.asarray(x) for x in editor.get('layers') or []]
    masks = [x[..., 3] > 0 for x in layers if x.ndim == 3 and x.shape[2] == 4]
    if not masks or not any(m.any() for m in masks):
        return None
    return np.logical_or.reduce(masks).astype(np.uint8)


def _fit(mask: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Nearest-resize a painted mask to its image if the canvas differs."""
    if mask.shape == tuple(shape):
        return mask
    rows = np.arange(shape[0]) * mask.shape[0] // shape[0]
    cols = np.arange(shape[1]) * mask.shape[1] // shape[1]
    return mask[rows[:, None], cols[None, :]]


def collect_supports(editors: Sequence[Optional[dict]],
                     masks: Sequence) -> Tuple[List, List]:
    """The filled support slots: (images, masks), in slot order.

    A slot with an image needs an uploaded mask or painted strokes; a mask
    without an image is refused.
    """
    imgs, out_masks = [], []
    for k, (editor, mask) in enumerate(zip(editors, masks)):
        background = (editor or {}).get('background')
        if background is None:
            if mask is not None:
                raise ValueError(f'support {k + 1}: a mask but no image; '
                                 f'upload the image in its editor')
            continue
        img = to_rgb(background, f'support {k + 1}')
        if mask is None:
            mask = painted_mask(editor)
            if mask is None:
                raise ValueError(f'support {k + 1}: no mask; upload one or '
                                 f'paint over the object')
            mask = _fit(mask, img.shape[:2])
        imgs.append(img)
        out_masks.append(mask)
    if not imgs:
        raise ValueError('add at least one support image with its mask')
    return imgs, out_masks


def segment(model, query, editors: Sequence, masks: Sequence,
            opacity: float) -> Tuple[np.ndarray, list, str]:
    """Run one episode for the UI.

    Returns:
        tuple: the query with the prediction (RGB uint8), the per-shot
        votes as (image, caption) pairs, and a one-line summary.
    """
    if query is None:
        raise ValueError('upload a query image')
    query_img = to_rgb(query, 'query')
    imgs, support_masks = collect_supports(editors, masks)
    result = inference_episode(model, query_img, imgs, support_masks)
    pred = result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    overlay = overlay_mask(query_img, pred, PRED_COLOR, opacity)
    # (each shot's vote is at the input size for a huge query: the packer's
    # contract, hsnet_mm.models.segmentors.prediction_packer)
    h0, w0 = query_img.shape[:2]
    shots = (result.shot_pred_sem_seg.data.cpu().numpy()
             if 'shot_pred_sem_seg' in result else [])  # (a segmentor may not)
    votes = [(overlay_mask(
        query_img,
        mmcv.imresize(
            shot.astype(np.uint8), (w0, h0), interpolation='nearest'),
        SUPPORT_COLOR, opacity), f'shot {k + 1}: {int(shot.sum())} px')
             for k, shot in enumerate(shots)]
    share = 100 * pred.mean()
    return overlay, votes, (f'{len(imgs)}-shot: {share:.1f}% of the query '
                            f'is the object')


def build_demo(model, examples_dir: str):
    """The Gradio Blocks app (elem_ids are used by the browser test)."""
    import gradio as gr
    if DEMO_DIR not in sys.path:
        sys.path.insert(0, DEMO_DIR)
    from make_examples import write_examples

    def run(query, *args):
        editors, masks = args[:MAX_SHOTS], args[MAX_SHOTS:2 * MAX_SHOTS]
        try:
            return segment(model, query, editors, masks, args[-1])
        except (OSError, ValueError) as e:
            raise gr.Error(str(e))

    with gr.Blocks(title='hsnet-mm few-shot segmentation') as demo:
        gr.Markdown('# hsnet-mm: few-shot segmentation\nUpload a query and '
                    'one to five supports; give each support a mask by '
                    'uploading it or by painting over the object.')
        with gr.Row():
            with gr.Column():
                query = gr.Image(
                    type='filepath', label='query', elem_id='query')
                editors, masks = [], []
                with gr.Tabs():
                    for k in range(MAX_SHOTS):
                        with gr.Tab(f'support {k + 1}'):
                            editors.append(
                                gr.ImageEditor(
                                    type='numpy',
                                    label=f'support {k + 1} (paint the '
                                    'object)',
                                    sources=['upload'],
                                    elem_id=f'support-{k}'))
                            masks.append(
                                gr.Image(
                                    type='filepath',
                                    label=f'mask {k + 1} (optional upload)',
                                    elem_id=f'mask-{k}'))
                opacity = gr.Slider(0, 1, value=0.5, label='opacity')
                button = gr.Button('Segment', elem_id='run-button')
            with gr.Column():
                result = gr.Image(
                    label='prediction',
                    format='png',
                    interactive=False,
                    elem_id='result')
                votes = gr.Gallery(
                    label='per-shot votes', format='png', elem_id='votes')
                summary = gr.Textbox(label='summary', elem_id='summary')
        inputs = [query, *editors, *masks, opacity]
        button.click(run, inputs, [result, votes, summary])
        rows = []
        for ep in write_examples(examples_dir):
            shots = len(ep['supports'])
            pad = [None] * (MAX_SHOTS - shots)
            rows.append([
                ep['queries'][0], *ep['supports'], *pad, *ep['masks'], *pad,
                0.5
            ])
        gr.Examples(rows, inputs, label='example episodes (synthetic)')
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='hsnet-mm web demo')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--host',
        default='127.0.0.1',
        help='address to bind (default: local only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--examples-dir',
        default=None,
        help='where to write the examples (default: a '
        'temporary folder)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    check_device(args.device)
    check_writable(args.examples_dir)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    model = init_model(args.config, args.checkpoint, device=args.device)
    examples_dir = args.examples_dir or tempfile.mkdtemp(
        prefix='hsnet_examples_')
    demo = build_demo(model, examples_dir)
    demo.queue(default_concurrency_limit=1).launch(
        server_name=args.host,
        server_port=args.port,
        allowed_paths=[osp.abspath(examples_dir)],
        show_error=True)


if __name__ == '__main__':
    run_cli(main)
