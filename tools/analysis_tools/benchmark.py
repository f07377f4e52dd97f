# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Time HSNet episodes: inference or a training step, fast vs reference.

Random weights unless ``--checkpoint`` (speed does not depend on them; the
backbone's ``init_cfg`` is dropped, so nothing is downloaded) and random
episodes of ``--img-size``. Prints the median and min/max ms per episode
batch, episodes/s and the peak memory of one more, untimed step (CPU: peak
RSS growth, sampled every millisecond after the heap's free pages were
returned to the OS; CUDA: ``max_memory_allocated``).

``--compare`` times ``impl='reference'`` and ``impl='fast'`` alternately in
one process (same weights; the reference also runs a ResNet backbone's
convs and BatchNorms apart on NCHW activations, and all pairs through the
neck and encoder at once) and prints their ratio; on a shared machine only
such ratios are meaningful. ``--compare-amp`` alternates the ``--impl``
model in fp32 and under autocast (bf16 on a CPU) the same way.
``--per-shot-reference`` makes the reference side do what the official
code does for K shots: the 1-shot reference model run once per shot (the
query encoded K times), then the vote.

``--matrix`` runs the whole grid, one configuration after the other:
inference and a 1-shot training step (HSNet trains 1-shot, its K-shot
configs vote), batch 1 and 20, 1- and 5-shot, fp32 and AMP, fast and
reference, and for 5-shot inference the official per-shot approach. It
prints a line a configuration as it is measured, then the table (fast vs
reference, episodes/s, peak memory) and the time of one PASCAL-5i training
epoch (R50 recipe: batch 20, the train split's steps, 570 when the data is
not here, plus the 1000 validation episodes) and of 200 epochs, from the
measured steps. Each configuration is bounded (``--config-seconds``,
``--max-batch``, ``--time-budget``); ``--out`` is rewritten after each, so a
run cut short keeps what it measured.

``--backend pytorch onnxruntime openvino`` times an exported model
(:mod:`hsnet_mm.deploy`; exported from the same weights into a temporary
folder, or ``--export-dir``) against PyTorch, alternating in one process on
the same episodes: each runtime's episode (supports and query encoded once,
the predictor, the vote) against the PyTorch fast path, the reference path
and, at K > 1, the official per-shot approach. ``--amp`` compares
OpenVINO's bf16 inference precision with PyTorch's bf16 autocast (ONNX
Runtime runs fp32 only).

On CUDA a step is timed with CUDA events after the warm-up steps, and the
peak memory is ``torch.cuda.max_memory_allocated`` over the timed steps
(reset before them); ``cudnn.benchmark`` is on unless
``--no-cudnn-benchmark``. Peak memory is the growth during a step; the
matrix also gives the total: the growth plus the model's weights and
buffers, the optimizer state and the episode tensors.

Examples::

    python tools/analysis_tools/benchmark.py \
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py --compare --stages
    python tools/analysis_tools/benchmark.py \
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py --compare-amp
    python tools/analysis_tools/benchmark.py \
        configs/hsnet/hsnet_r101_pascal5i_fold0_1shot.py --device cuda \
        --matrix --out bench_r101.json
"""
import argparse
import ctypes
import gc
import json
import math
import os.path as osp
import statistics
import sys
import threading
import time
from contextlib import nullcontext
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample

import hsnet_mm  # noqa: F401  (registers the components)
from hsnet_mm.models.segmentors import vote_kshot
from hsnet_mm.utils import (atomic_dump_json, call_cli, load_weights, one_line,
                            result_environment)

STAGES = ('backbone', 'neck', 'encoder', 'decode_head')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights (default: random)')
    parser.add_argument('--shot', type=int, default=1)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--img-size', type=int, default=400)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--amp',
        action='store_true',
        help='autocast: bf16 on CPU, --amp-dtype on CUDA')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        help='autocast dtype (default: float16 on CUDA, bfloat16 on CPU, '
        'where float16 is refused)')
    parser.add_argument(
        '--cudnn-benchmark',
        action=argparse.BooleanOptionalAction,
        help='cudnn autotuning, absorbed by the warm-up (default: on for '
        'CUDA)')
    parser.add_argument(
        '--train',
        action='store_true',
        help='a training step: forward, backward, Adam step')
    parser.add_argument(
        '--with-cp',
        action='store_true',
        help='activation checkpointing of the correlation and 4D encoder '
        '(HSNet with_cp)')
    parser.add_argument(
        '--impl', default='fast', choices=['fast', 'reference'])
    compare = parser.add_mutually_exclusive_group()
    compare.add_argument(
        '--compare',
        action='store_const',
        const='impl',
        help='alternate reference and fast in one process, print the ratio')
    compare.add_argument(
        '--compare-amp',
        dest='compare',
        action='store_const',
        const='amp',
        help='alternate --impl in fp32 and under autocast in one process, '
        'print the ratio')
    compare.add_argument(
        '--matrix',
        dest='compare',
        action='store_const',
        const='matrix',
        help='the grid: inference and training step, batch 1 and 20, 1- and '
        '5-shot, fp32 and AMP, fast, reference and per-shot reference; the '
        'table and the PASCAL epoch estimate')
    compare.add_argument(
        '--backend',
        nargs='+',
        choices=('pytorch', 'onnxruntime', 'openvino'),
        help='time an ONNX export with these runtimes against PyTorch (fast, '
        'reference and, at K > 1, per-shot reference)')
    parser.add_argument(
        '--export-dir',
        help='--backend: an export of the same model (default: exported '
        'into a temporary folder)')
    parser.add_argument(
        '--per-shot-reference',
        action='store_true',
        help='reference side runs 1-shot once per shot (official K-shot)')
    parser.add_argument(
        '--repeat',
        type=int,
        default=10,
        help='timed runs (--matrix: at most, see --config-seconds)')
    parser.add_argument('--warmup', type=int, default=2)
    matrix = parser.add_argument_group('--matrix bounds')
    matrix.add_argument(
        '--max-batch',
        type=int,
        help='skip the configurations of a larger batch (default: none)')
    matrix.add_argument(
        '--config-seconds',
        type=float,
        help='stop the timed runs of a configuration after this long (at '
        'least one run), and skip one whose step, estimated from a smaller '
        'batch, would take longer (default: 3 on CUDA, 10 on CPU)')
    matrix.add_argument(
        '--time-budget',
        type=float,
        help='seconds for the whole matrix: the configurations not started '
        'by then are listed as skipped (default: none)')
    matrix.add_argument(
        '--epoch-steps',
        type=int,
        help='steps of a PASCAL-5i training epoch at batch 20 (default: '
        "from the config's train split when its data is here, else 570)")
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument(
        '--stages',
        action='store_true',
        help='per-stage split (backbone, correlation, 4D encoder, decoder)')
    parser.add_argument(
        '--mask-area',
        type=float,
        default=0.25,
        help='share of each support image its square mask covers (the '
        'fast correlation skips masked-out positions: 1.0 is its worst '
        'case)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the results as JSON')
    args = parser.parse_args(argv)
    for name in ('shot', 'batch_size', 'img_size', 'repeat', 'max_batch',
                 'epoch_steps'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    for name in ('config_seconds', 'time_budget'):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f'--{name.replace("_", "-")} must be > 0')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    if not 0 < args.mask_area <= 1:
        parser.error('--mask-area must be in (0, 1]')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    if args.device == 'cpu' and args.amp_dtype == 'float16':
        parser.error('--amp-dtype float16 needs CUDA; a CPU autocasts to '
                     'bfloat16 (drop --amp-dtype)')
    if args.amp_dtype is None:
        args.amp_dtype = 'float16' if args.device == 'cuda' else 'bfloat16'
    if args.cudnn_benchmark is None:
        args.cudnn_benchmark = args.device == 'cuda'
    if args.compare == 'matrix':
        extra = [
            flag
            for flag, given in (('--train', args.train), ('--amp', args.amp),
                                ('--per-shot-reference',
                                 args.per_shot_reference),
                                ('--stages', args.stages), ('--shot',
                                                            args.shot != 1),
                                ('--batch-size', args.batch_size != 1))
            if given
        ]
        if extra:
            parser.error(f'--matrix runs every mode, shot, batch size, '
                         f'precision and path itself: drop '
                         f'{" ".join(extra)}')
        if args.config_seconds is None:
            args.config_seconds = 3.0 if args.device == 'cuda' else 10.0
    if args.backend:
        flags = {
            '--train': args.train,
            '--stages': args.stages,
            '--with-cp': args.with_cp,
            '--per-shot-reference': args.per_shot_reference,
            '--device cuda': args.device == 'cuda'
        }
        extra = [flag for flag, given in flags.items() if given]
        if extra:
            parser.error(f'--backend times CPU inference of every path '
                         f'itself: drop {" ".join(extra)}')
    elif args.export_dir:
        parser.error('--export-dir goes with --backend')
    if args.per_shot_reference and args.compare != 'impl':
        parser.error('--per-shot-reference needs --compare (impl)')
    if args.compare == 'amp' and args.amp:
        parser.error('--compare-amp times fp32 against --amp itself: drop '
                     '--amp')
    if args.per_shot_reference and args.train:
        parser.error('--per-shot-reference times inference only')
    return args


def build_model(cfg: Config, impl: str, args) -> torch.nn.Module:
    """The config's model with ``impl`` and random (or loaded) weights.

    The reference side is the model's reference execution policy
    (``model.impl='reference'``, :mod:`hsnet_mm.models.execution_policy`),
    the straightforward model as the official code runs it.
    """
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, init_cfg=None)
    model_cfg.impl = impl
    model_cfg.with_cp = args.with_cp
    torch.manual_seed(args.seed)
    model = MODELS.build(model_cfg)
    if args.checkpoint:
        load_weights(model, args.checkpoint)
    return model.to(args.device).train(args.train)


def random_episodes(args) -> Dict[str, torch.Tensor]:
    """Normalised-looking images and square 0/1 support masks covering
    ``args.mask_area`` of each support image, at random places."""
    g = torch.Generator().manual_seed(args.seed)
    b, k, s = args.batch_size, args.shot, args.img_size
    side = max(1, min(s, round(s * args.mask_area**0.5)))
    masks = torch.zeros(b, k, s, s)
    for i in range(b):
        for j in range(k):
            y0, x0 = torch.randint(
                0, s - side + 1, (2, ), generator=g).tolist()
            masks[i, j, y0:y0 + side, x0:x0 + side] = 1
    inputs = dict(
        query_img=torch.randn(b, 3, s, s, generator=g),
        support_imgs=torch.randn(b, k, 3, s, s, generator=g),
        support_masks=masks)
    return {key: v.to(args.device) for key, v in inputs.items()}


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the OS (glibc ``malloc_trim``),
    so that the RSS growth of the next step counts all its allocations,
    not only those the heap could not serve from an earlier step's."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: RSS growth as it is
        pass


class PeakMemory:
    """Peak memory growth of a block, in MiB (CUDA allocator or CPU RSS)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak_mib = 0.0

    @staticmethod
    def _rss() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * 4096

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._rss())
            time.sleep(0.001)

    def __enter__(self) -> 'PeakMemory':
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            self._base = self._max = self._rss()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            peak = self._max
        self.peak_mib = (peak - self._base) / 2**20


class StageTimer:
    """Wall time spent in the segmentor's parts, via forward hooks."""

    def __init__(self, model: torch.nn.Module, device: str) -> None:
        self.device = device
        self.totals = dict.fromkeys(STAGES, 0.0)
        self._start: Dict[str, float] = {}
        for name in STAGES:
            part = getattr(model, name)
            part.register_forward_pre_hook(self._pre(name))
            part.register_forward_hook(self._post(name))

    def _now(self) -> float:
        if self.device == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter()

    def _pre(self, name):
        return lambda module, inputs: self._start.__setitem__(
            name, self._now())

    def _post(self, name):

        def hook(module, inputs, output):
            self.totals[name] += self._now() - self._start[name]

        return hook


class Runner:
    """One timed variant: a model and the step it runs."""

    def __init__(self,
                 name: str,
                 model,
                 args,
                 per_shot: bool = False,
                 amp: Optional[bool] = None):
        self.name, self.model, self.args = name, model, args
        self.per_shot = per_shot
        self.amp = args.amp if amp is None else amp
        self.times: List[float] = []
        self.peak_mib = 0.0
        self.stages = StageTimer(model, args.device) if args.stages else None
        self.scaler = None
        if args.train:
            params = [p for p in model.parameters() if p.requires_grad]
            self.optimizer = torch.optim.Adam(params, lr=1e-3)
            if self.amp and args.device == 'cuda' and (args.amp_dtype
                                                       == 'float16'):
                # dynamic loss scaling, as AmpOptimWrapper trains in fp16
                self.scaler = torch.amp.GradScaler('cuda')
            self.samples = [
                SegDataSample(
                    gt_sem_seg=PixelData(
                        data=torch.randint(
                            0,
                            2, (1, args.img_size, args.img_size),
                            device=args.device)))
                for _ in range(args.batch_size)
            ]

    def autocast(self):
        if not self.amp:
            return nullcontext()
        return torch.autocast(
            self.args.device, dtype=getattr(torch, self.args.amp_dtype))

    def step(self, inputs: Dict[str, torch.Tensor]) -> None:
        model = self.model
        if self.args.train:
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                losses = model.loss(inputs, self.samples)
                loss = sum(v for k, v in losses.items() if 'loss' in k)
            if self.scaler is None:
                loss.backward()
                self.optimizer.step()
            else:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            return
        with torch.no_grad(), self.autocast():
            if not self.per_shot:
                vote_kshot(model.encode_decode(inputs))
                return
            shots = [  # the official K-shot loop: one 1-shot pass per shot
                model.encode_decode(
                    dict(
                        query_img=inputs['query_img'],
                        support_imgs=inputs['support_imgs'][:, k:k + 1],
                        support_masks=inputs['support_masks'][:, k:k + 1]))
                for k in range(inputs['support_imgs'].shape[1])
            ]
            vote_kshot(torch.cat(shots, 1))

    def timed_step(self, inputs, record: bool) -> None:
        """One step; its time in ms joins ``times`` when ``record`` (CUDA:
        between two events around it, after a synchronize)."""
        if self.stages and not record:
            saved = dict(self.stages.totals)
        if self.args.device == 'cuda':
            start, end = (
                torch.cuda.Event(enable_timing=True) for _ in range(2))
            torch.cuda.synchronize()
            start.record()
            self.step(inputs)
            end.record()
            end.synchronize()
            elapsed_ms = start.elapsed_time(end)
        else:
            start_s = time.perf_counter()
            self.step(inputs)
            elapsed_ms = (time.perf_counter() - start_s) * 1e3
        if record:
            self.times.append(elapsed_ms)
        elif self.stages:
            self.stages.totals = saved

    def memory_step(self, inputs) -> None:
        """One more step, untimed, for its peak memory (a separate step:
        the RSS sampling thread would perturb the timing)."""
        if self.stages:
            saved = dict(self.stages.totals)
        if self.args.device == 'cpu':
            release_free_memory()
        with PeakMemory(self.args.device) as mem:
            self.step(inputs)
        self.peak_mib = mem.peak_mib
        if self.stages:
            self.stages.totals = saved

    def summary(self) -> dict:
        t = sorted(self.times)
        med = statistics.median(t)
        out = dict(
            name=self.name,
            median_ms=med,
            min_ms=t[0],
            max_ms=t[-1],
            episodes_per_s=self.args.batch_size * 1e3 / med,
            peak_mem_mib=self.peak_mib)
        if self.stages:
            out['stages_ms'] = {
                k: v * 1e3 / len(t)
                for k, v in self.stages.totals.items()
            }
        return out


def report(summary: dict) -> str:
    line = (f"{summary['name']:>10}: {summary['median_ms']:9.1f} ms "
            f"(min {summary['min_ms']:.1f}, max {summary['max_ms']:.1f}), "
            f"{summary['episodes_per_s']:.2f} episodes/s, peak memory "
            f"+{summary['peak_mem_mib']:.0f} MiB")
    if 'stages_ms' in summary:
        stages = summary['stages_ms']
        total = sum(stages.values())
        line += '\n' + ' ' * 12 + ', '.join(
            f'{k} {v:.1f} ms ({100 * v / summary["median_ms"]:.0f}%)'
            for k, v in stages.items()) + f' [sum {total:.1f} ms]'
    return line


#: The matrix's (mode, shot, batch, precision) groups in the order they
#: run: the targets' configurations first, so that a time budget cuts the
#: least useful, and each batch 20 after its batch 1, whose time tells
#: whether it fits in --config-seconds. HSNet trains 1-shot (its K-shot
#: configs vote at test time), so the training steps are 1-shot.
MATRIX_GROUPS = (
    ('inference', 1, 1, 'fp32'),
    ('inference', 1, 1, 'amp'),
    ('train', 1, 1, 'amp'),
    ('train', 1, 1, 'fp32'),
    ('train', 1, 20, 'amp'),
    ('train', 1, 20, 'fp32'),
    ('inference', 5, 1, 'fp32'),
    ('inference', 5, 1, 'amp'),
    ('inference', 1, 20, 'fp32'),
    ('inference', 1, 20, 'amp'),
    ('inference', 5, 20, 'fp32'),
    ('inference', 5, 20, 'amp'),
)
#: PASCAL-5i's recipe: batch 20, 200 epochs for the estimate, and when the
#: data is not here ~570 steps an epoch (about 11,400 training episodes of
#: a fold) and the official 1000 validation episodes in batches of 4.
PASCAL_BATCH, PASCAL_EPOCHS, PASCAL_STEPS = 20, 200, 570
PASCAL_VAL_EPISODES, PASCAL_VAL_BATCH = 1000, 4


def matrix_plan() -> List[dict]:
    """The matrix's configurations, in the order they run."""
    plan = []
    for mode, shot, batch, precision in MATRIX_GROUPS:
        impls = ['fast', 'reference']
        if mode == 'inference' and shot > 1:
            impls.append('per-shot')  # the official K-shot loop
        for impl in impls:
            plan.append(
                dict(
                    mode=mode,
                    shot=shot,
                    batch_size=batch,
                    precision=precision,
                    impl=impl))
    return plan


def config_label(c: dict) -> str:
    return (f"{c['mode']}, {c['shot']}-shot, batch {c['batch_size']}, "
            f"{c['precision']}, {c['impl']}")


def _ok(rows: List[dict], **match) -> List[dict]:
    return [
        r for r in rows
        if r['status'] == 'ok' and all(r[k] == v for k, v in match.items())
    ]


def nearest_batch(rows: List[dict], batch: int) -> Optional[dict]:
    """The row whose batch is nearest ``batch`` (ratio; ties: smaller)."""
    if not rows:
        return None
    return min(
        rows,
        key=lambda r:
        (abs(math.log(r['batch_size'] / batch)), r['batch_size']))


def skip_reason(c: dict, rows: List[dict], args,
                elapsed_s: float) -> Optional[str]:
    """Why configuration ``c`` is not run, or None."""
    if args.max_batch and c['batch_size'] > args.max_batch:
        return f'batch {c["batch_size"]} > --max-batch {args.max_batch}'
    left = None if args.time_budget is None else args.time_budget - elapsed_s
    if left is not None and left <= 0:
        return f'--time-budget {args.time_budget:g} s spent'
    smaller = [
        r for r in _ok(
            rows,
            mode=c['mode'],
            shot=c['shot'],
            precision=c['precision'],
            impl=c['impl']) if r['batch_size'] < c['batch_size']
    ]
    if smaller:
        r = max(smaller, key=lambda r: r['batch_size'])
        step_s = r['median_ms'] * c['batch_size'] / r['batch_size'] / 1e3
        if step_s > args.config_seconds:
            return (f'too slow: ~{step_s:.1f} s a step (from batch '
                    f'{r["batch_size"]}) > --config-seconds '
                    f'{args.config_seconds:g}')
        if left is not None and step_s * (args.warmup + 1) > left:
            return (f'--time-budget: ~{step_s * (args.warmup + 1):.1f} s '
                    f'needed, {left:.1f} s left')
    return None


def footprint_mib(runner: 'Runner', inputs: Dict[str, torch.Tensor]) -> float:
    """What a step holds besides its working memory: the model's weights,
    buffers and gradients, the optimizer state and the episode tensors."""
    model = runner.model
    tensors = [*model.parameters(), *model.buffers(), *inputs.values()]
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    if runner.args.train:
        tensors += [
            t for state in runner.optimizer.state.values()
            for t in state.values() if torch.is_tensor(t)
        ]
        tensors += [s.gt_sem_seg.data for s in runner.samples]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def measure_config(c: dict, model: torch.nn.Module, args) -> dict:
    """Warm up, then time configuration ``c`` until ``--repeat`` runs or
    ``--config-seconds``; its peak memory (CUDA: over the timed runs)."""
    sub = argparse.Namespace(**vars(args))
    sub.train, sub.amp = c['mode'] == 'train', c['precision'] == 'amp'
    sub.shot, sub.batch_size, sub.stages = c['shot'], c['batch_size'], False
    model.train(sub.train)
    inputs = random_episodes(sub)
    runner = Runner(c['impl'], model, sub, per_shot=c['impl'] == 'per-shot')
    for _ in range(args.warmup):
        runner.timed_step(inputs, record=False)

    def timed_runs():
        deadline = time.perf_counter() + args.config_seconds
        while len(runner.times) < args.repeat:
            runner.timed_step(inputs, record=True)
            if time.perf_counter() > deadline:
                break

    # the footprint just before the memory is measured, so that nothing is
    # counted twice or missed (Adam's state appears at the first step)
    if args.device == 'cuda':
        base_mib = footprint_mib(runner, inputs)
        with PeakMemory('cuda') as mem:
            timed_runs()
        runner.peak_mib = mem.peak_mib
    else:
        timed_runs()
        base_mib = footprint_mib(runner, inputs)
        runner.memory_step(inputs)
    summary = runner.summary()
    del summary['name']
    return dict(
        summary,
        runs=len(runner.times),
        peak_mem_total_mib=base_mib + summary['peak_mem_mib'])


def add_ratios(rows: List[dict]) -> None:
    """fast vs reference (and vs per-shot) and AMP vs fp32, in place."""
    for r in _ok(rows):
        same = dict(mode=r['mode'], shot=r['shot'], batch_size=r['batch_size'])
        if r['impl'] == 'fast':
            for other, key in (('reference', 'speedup_vs_reference'),
                               ('per-shot', 'speedup_vs_per_shot')):
                for o in _ok(
                        rows, impl=other, precision=r['precision'], **same):
                    r[key] = o['median_ms'] / r['median_ms']
        if r['precision'] == 'amp':
            for o in _ok(rows, impl=r['impl'], precision='fp32', **same):
                r['amp_speedup'] = o['median_ms'] / r['median_ms']


def pascal_epoch(cfg: Config, args) -> dict:
    """Steps of a PASCAL-5i training epoch at batch 20 and its validation:
    the config's, when it trains on PASCAL-5i and its split lists are here
    (reading them is cheap), else the recipe's."""
    val = dict(
        val_episodes=PASCAL_VAL_EPISODES, val_batch_size=PASCAL_VAL_BATCH)
    if args.epoch_steps:
        return dict(val, steps=args.epoch_steps, steps_note='--epoch-steps')
    note = f'about 11,400 PASCAL-5i training episodes / {PASCAL_BATCH}'
    train = cfg.get('train_dataloader', {}).get('dataset', {})
    if train.get('type') != 'PASCAL5iDataset':
        return dict(
            val,
            steps=PASCAL_STEPS,
            steps_note=f'{note}; the config does not train on PASCAL-5i')
    loader = cfg.get('val_dataloader', {})
    val = dict(
        val_episodes=loader.get('dataset', {}).get('num_episodes')
        or PASCAL_VAL_EPISODES,
        val_batch_size=loader.get('batch_size') or PASCAL_VAL_BATCH)
    try:
        episodes = len(DATASETS.build(dict(train, lazy_init=True)))
    except (OSError, ValueError) as e:
        return dict(
            val,
            steps=PASCAL_STEPS,
            steps_note=f'{note}; its data is not here: {one_line(e)}')
    return dict(
        val,
        steps=math.ceil(episodes / PASCAL_BATCH),
        steps_note=f"the config's train split: {episodes} episodes / "
        f'{PASCAL_BATCH}')


def epoch_estimates(rows: List[dict], epoch: dict) -> List[dict]:
    """A PASCAL-5i epoch and ``PASCAL_EPOCHS`` of them from the measured
    steps: training steps (1-shot, batch 20; a smaller batch's time scaled
    per episode when batch 20 was not run) plus the validation episodes
    (1-shot fp32 inference, as the validation loop runs, at the measured
    batch nearest the validation batch). No data loading."""
    out = []
    for impl in ('fast', 'reference'):
        for precision in ('amp', 'fp32'):
            train = nearest_batch(
                _ok(rows, mode='train', shot=1, impl=impl,
                    precision=precision), PASCAL_BATCH)
            if train is None:
                continue
            step_ms = train['median_ms'] * PASCAL_BATCH / train['batch_size']
            val = nearest_batch(
                _ok(rows,
                    mode='inference',
                    shot=1,
                    impl=impl,
                    precision='fp32'), epoch['val_batch_size'])
            train_s = epoch['steps'] * step_ms / 1e3
            val_s = None
            if val is not None:
                val_s = (
                    val['median_ms'] / val['batch_size'] *
                    epoch['val_episodes'] / 1e3)
            epoch_s = train_s + (val_s or 0.0)
            out.append(
                dict(
                    impl=impl,
                    precision=precision,
                    step_ms=step_ms,
                    step_from_batch=train['batch_size'],
                    train_s=train_s,
                    val_s=val_s,
                    val_from_batch=val and val['batch_size'],
                    epoch_s=epoch_s,
                    epochs=PASCAL_EPOCHS,
                    total_h=PASCAL_EPOCHS * epoch_s / 3600))
    return out


def matrix_line(r: dict) -> str:
    if r['status'] != 'ok':
        return f"{config_label(r)}: {r['status']} ({r['reason']})"
    return (f"{config_label(r)}: {r['median_ms']:.1f} ms (min "
            f"{r['min_ms']:.1f}, max {r['max_ms']:.1f}, {r['runs']} "
            f"run{'s' if r['runs'] > 1 else ''}), "
            f"{r['episodes_per_s']:.2f} episodes/s, peak memory "
            f"+{r['peak_mem_mib']:.0f} MiB (total "
            f"{r['peak_mem_total_mib']:.0f} MiB)")


def matrix_table(rows: List[dict]) -> str:
    """The CPU table's columns plus throughput, one line a group (and one
    more for the per-shot reference of 5-shot inference)."""
    lines = [
        '| what | reference, ms | fast, ms | fast vs reference | fast, '
        'episodes/s | peak memory (total) reference / fast, MiB |',
        '| --- | --- | --- | --- | --- | --- |'
    ]

    def ms(r):
        return f"{r['median_ms']:.1f}" if r['status'] == 'ok' else \
            r['status']

    def mib(r):
        return f"{r['peak_mem_total_mib']:.0f}" if r['status'] == 'ok' \
            else '-'

    groups = sorted(
        {(r['mode'], r['shot'], r['batch_size'], r['precision'])
         for r in rows},
        key=lambda g: (g[0] != 'inference', g[1], g[2], g[3] != 'fp32'))
    for mode, shot, batch, precision in groups:
        byimpl = {
            r['impl']: r
            for r in rows if (r['mode'], r['shot'], r['batch_size'],
                              r['precision']) == (mode, shot, batch, precision)
        }
        fast = byimpl.get('fast')
        if fast is None:
            continue
        what = (f"{'training step' if mode == 'train' else 'inference'}, "
                f'{shot}-shot, batch {batch}, {precision}')
        eps = f"{fast['episodes_per_s']:.2f}" if fast['status'] == 'ok' \
            else '-'
        for impl, key, label in (('reference', 'speedup_vs_reference', what), (
                'per-shot', 'speedup_vs_per_shot',
                f'{what}, reference = 1-shot once per shot (official)')):
            ref = byimpl.get(impl)
            if ref is None:
                continue
            ratio = f'{fast[key]:.2f}x' if key in fast else '-'
            lines.append(f'| {label} | {ms(ref)} | {ms(fast)} | {ratio} | '
                         f'{eps} | {mib(ref)} / {mib(fast)} |')
    return '\n'.join(lines)


def epoch_lines(epoch: dict) -> List[str]:
    lines = [
        f"PASCAL-5i epoch at batch {PASCAL_BATCH}: {epoch['steps']} steps "
        f"({epoch['steps_note']}) + {epoch['val_episodes']} validation "
        f"episodes (1-shot fp32 inference); no data loading"
    ]
    for e in epoch['estimates']:
        val = '-' if e['val_s'] is None else \
            f"{e['val_s'] / 60:.1f} (batch {e['val_from_batch']})"
        lines.append(
            f"  {e['impl']} {e['precision']}: step {e['step_ms']:.1f} ms "
            f"(from batch {e['step_from_batch']}), epoch "
            f"{e['epoch_s'] / 60:.1f} min (train {e['train_s'] / 60:.1f} + "
            f"val {val}), {e['epochs']} epochs {e['total_h']:.2f} h")
    return lines


def matrix_settings(args) -> dict:
    settings = dict(
        device=args.device,
        device_name=torch.cuda.get_device_name()
        if args.device == 'cuda' else None,
        amp_dtype=args.amp_dtype,
        cudnn_benchmark=args.cudnn_benchmark,
        threads=torch.get_num_threads())
    if args.device == 'cuda':
        settings.update(
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            tf32_cudnn=torch.backends.cudnn.allow_tf32)
    return settings


def run_matrix(args, cfg: Config) -> int:
    """``--matrix``: every configuration of :func:`matrix_plan`."""
    start = time.perf_counter()
    models = dict(fast=build_model(cfg, 'fast', args))
    models['reference'] = build_model(cfg, 'reference', args)
    models['reference'].load_state_dict(models['fast'].state_dict())
    models['per-shot'] = models['reference']
    initial = {  # the weights each training configuration starts from
        k: {
            n: t.detach().clone()
            for n, t in models[k].state_dict().items()
        }
        for k in ('fast', 'reference')
    }
    gc.freeze()  # the modules and models: keeps each gc.collect() short
    settings = matrix_settings(args)
    environment = result_environment() if args.out else None
    epoch = pascal_epoch(cfg, args)
    device = args.device
    if settings['device_name']:
        device += f" ({settings['device_name']})"
    print(
        f'matrix, {args.img_size} px, {device}, AMP {args.amp_dtype}, '
        'cudnn.benchmark '
        f"{'on' if args.cudnn_benchmark else 'off'}"
        f"{', with_cp' if args.with_cp else ''}, "
        f'{torch.get_num_threads()} threads, warm-up {args.warmup}, up to '
        f'{args.repeat} runs or {args.config_seconds:g} s a '
        f'configuration, support masks {100 * args.mask_area:.0f}% of the '
        'image',
        flush=True)
    plan, rows = matrix_plan(), []

    def dump(complete: bool) -> None:
        add_ratios(rows)
        epoch['estimates'] = epoch_estimates(rows, epoch)
        if args.out:
            atomic_dump_json(
                args.out,
                dict(
                    args=vars(args),
                    settings=settings,
                    results=rows,
                    epoch=epoch,
                    table=matrix_table(rows),
                    epoch_summary=epoch_lines(epoch),
                    complete=complete,
                    environment=environment))

    for c in plan:
        row = dict(c, status='ok', reason=None)
        reason = skip_reason(c, rows, args, time.perf_counter() - start)
        if reason:
            row.update(status='skipped', reason=reason)
        else:
            try:
                row.update(measure_config(c, models[c['impl']], args))
            except torch.cuda.OutOfMemoryError as e:
                row.update(status='out of memory', reason=one_line(e)[:200])
            finally:
                if c['mode'] == 'train':  # the next one starts afresh
                    models[c['impl']].zero_grad(set_to_none=True)
                    models[c['impl']].load_state_dict(initial[c['impl']])
                gc.collect()
                if args.device == 'cuda':
                    torch.cuda.empty_cache()
        rows.append(row)
        print(matrix_line(row), flush=True)
        dump(complete=False)
    dump(complete=True)
    print()
    print(matrix_table(rows))
    print()
    print('\n'.join(epoch_lines(epoch)))
    return 0


def run_backends(args, cfg: Config) -> int:
    """``--backend``: PyTorch's paths and the runtimes of an export of the
    same weights, alternating on the same episodes; ratios of medians."""
    import tempfile

    from hsnet_mm.deploy import DeployedHSNet, export_onnx
    fast = build_model(cfg, 'fast', args).eval()
    ref = build_model(cfg, 'reference', args).eval()
    ref.load_state_dict(fast.state_dict())
    runners = [Runner('reference', ref, args)]
    if args.shot > 1:
        runners.append(Runner('per-shot', ref, args, per_shot=True))
    if 'pytorch' in args.backend:
        runners.append(Runner('fast', fast, args))
    runtimes = [b for b in args.backend if b != 'pytorch']
    with tempfile.TemporaryDirectory() as tmp:
        export_dir, export_s = args.export_dir, None
        if runtimes and not export_dir:
            export_dir = osp.join(tmp, 'export')
            start = time.perf_counter()
            export_onnx(fast, cfg, export_dir, img_size=(args.img_size, ) * 2)
            export_s = time.perf_counter() - start
            print(f'exported in {export_s:.1f} s')
        for backend in runtimes:
            if backend == 'onnxruntime' and args.amp:
                print('onnxruntime: skipped (fp32 only; --amp compares bf16)')
                continue
            deployed = DeployedHSNet(
                export_dir,
                backend,
                cfg=cfg,
                threads=args.threads,
                precision='bf16' if args.amp else 'fp32')
            runners.append(Runner(backend, deployed, args, amp=False))
        inputs = random_episodes(args)
        for i in range(args.warmup + args.repeat):
            for runner in runners:  # alternate, so load changes hit all
                runner.timed_step(inputs, record=i >= args.warmup)
        for runner in runners:
            runner.memory_step(inputs)
    print(f'inference, {args.shot}-shot, batch {args.batch_size}, '
          f'{args.img_size} px, cpu, '
          f'{"bf16" if args.amp else "fp32"}, {torch.get_num_threads()} '
          f'threads, {args.repeat} runs')
    summaries = [r.summary() for r in runners]
    medians = {s['name']: s['median_ms'] for s in summaries}
    for s in summaries:
        s['speedup'] = {
            base: medians[base] / s['median_ms']
            for base in ('reference', 'per-shot', 'fast') if base in medians
        }
        print(
            report(s) + '; x ' + ', '.join(f'{v:.2f} vs {k}'
                                           for k, v in s['speedup'].items()))
    if args.out:
        atomic_dump_json(
            args.out,
            json.loads(
                json.dumps(
                    dict(
                        args=vars(args),
                        export_s=export_s,
                        results=summaries,
                        environment=result_environment()))))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda':
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    if args.compare == 'matrix':
        return run_matrix(args, cfg)
    if args.backend:
        return run_backends(args, cfg)
    inputs = random_episodes(args)
    if args.compare == 'impl':
        fast = build_model(cfg, 'fast', args)
        ref = build_model(cfg, 'reference', args)
        ref.load_state_dict(fast.state_dict())
        runners = [
            Runner('reference', ref, args, per_shot=args.per_shot_reference),
            Runner('fast', fast, args)
        ]
    elif args.compare == 'amp':
        fp32 = build_model(cfg, args.impl, args)
        amp = build_model(cfg, args.impl, args)
        amp.load_state_dict(fp32.state_dict())
        runners = [
            Runner('fp32', fp32, args, amp=False),
            Runner('amp', amp, args, amp=True)
        ]
    else:
        runners = [Runner(args.impl, build_model(cfg, args.impl, args), args)]
    for i in range(args.warmup + args.repeat):
        for runner in runners:  # alternate, so load changes hit both
            runner.timed_step(inputs, record=i >= args.warmup)
    for runner in runners:
        runner.memory_step(inputs)
    mode = 'training step' if args.train else 'inference'
    print(f'{mode}, {args.shot}-shot, batch {args.batch_size}, '
          f'{args.img_size} px, {args.device}'
          f'{", amp " + args.amp_dtype if args.amp else ""}'
          f'{", with_cp" if args.with_cp else ""}'
          f'{", " + args.impl + " path" if args.compare == "amp" else ""}'
          f', {torch.get_num_threads()} threads, {args.repeat} runs, '
          f'support masks {100 * args.mask_area:.0f}% of the image')
    summaries = [r.summary() for r in runners]
    for s in summaries:
        print(report(s))
    result = dict(args=vars(args), results=summaries)
    if args.compare:
        ratio = summaries[0]['median_ms'] / summaries[1]['median_ms']
        result['speedup'] = ratio
        print(f'speed-up {runners[1].name} vs {runners[0].name}: '
              f'{ratio:.2f}x (ratio of medians)')
        if args.stages:
            ref_st, fast_st = (s['stages_ms'] for s in summaries)
            for part in (('neck', 'encoder'), ):
                r = sum(ref_st[p] for p in part) / sum(fast_st[p]
                                                       for p in part)
                result['speedup_correlation_encoder'] = r
                print(f'speed-up correlation + 4D encoder: {r:.2f}x')
    if args.out:
        atomic_dump_json(
            args.out,
            json.loads(
                json.dumps(dict(result, environment=result_environment()))))
    return 0


if __name__ == '__main__':
    sys.exit(call_cli(main))
