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

Examples::

    python tools/analysis_tools/benchmark.py \
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py --compare --stages
    python tools/analysis_tools/benchmark.py \
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py --compare-amp
"""
import argparse
import ctypes
import gc
import json
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
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import hsnet_mm  # noqa: F401  (registers the components)
from hsnet_mm.models.segmentors import vote_kshot
from hsnet_mm.utils import (atomic_dump_json, call_cli, load_weights,
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
        '--amp-dtype', default='float16', choices=['float16', 'bfloat16'])
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
    parser.add_argument(
        '--per-shot-reference',
        action='store_true',
        help='reference side runs 1-shot once per shot (official K-shot)')
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
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
    for name in ('shot', 'batch_size', 'img_size', 'repeat'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    if not 0 < args.mask_area <= 1:
        parser.error('--mask-area must be in (0, 1]')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
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
        if args.train:
            params = [p for p in model.parameters() if p.requires_grad]
            self.optimizer = torch.optim.Adam(params, lr=1e-3)
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
        if self.args.device == 'cpu':
            return torch.autocast('cpu', dtype=torch.bfloat16)
        return torch.autocast(
            'cuda', dtype=getattr(torch, self.args.amp_dtype))

    def step(self, inputs: Dict[str, torch.Tensor]) -> None:
        model = self.model
        if self.args.train:
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                losses = model.loss(inputs, self.samples)
                loss = sum(v for k, v in losses.items() if 'loss' in k)
            loss.backward()
            self.optimizer.step()
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
        sync = torch.cuda.synchronize if self.args.device == 'cuda' else None
        if self.stages and not record:
            saved = dict(self.stages.totals)
        start = time.perf_counter()
        self.step(inputs)
        if sync:
            sync()
        elapsed = time.perf_counter() - start
        if record:
            self.times.append(elapsed * 1e3)
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


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
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
          f'{", amp" if args.amp else ""}{", with_cp" if args.with_cp else ""}'
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
