# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The report of ``tools/gpu_check.sh``: ``gpu_report.json`` and
``gpu_report.md`` in the output folder, rewritten after every step so that
a run cut short still holds what it measured.

Standard library only (it runs before the install, and must keep working
when the install failed). Subcommands, called by ``gpu_check.sh``::

    python tools/gpu_check_report.py check-wheelhouse WHEELHOUSE
    python tools/gpu_check_report.py init OUT --wheelhouse W --plan PLAN_TSV
    python tools/gpu_check_report.py step OUT --name NAME --rc RC \\
        --seconds S [--bench JSON --model R101]
    python tools/gpu_check_report.py finish OUT --seconds S

The plan file has one line a step: ``name<TAB>timeout<TAB>command``. The
targets (issue 23) are read from the benchmark matrices' JSON
(``benchmark.py --matrix --out``) and put beside the paper's Table 5.
"""
import argparse
import datetime
import glob
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
from typing import Callable, Dict, List, NoReturn, Optional

PROG = 'gpu_check.sh'
#: The paper's Table 5: ResNet-101, one 1-shot episode, on its GPU.
PAPER = dict(ms=25.51, gb=1.39, gflops=20.56)
#: The targets of issue 23 on one modern GPU.
TARGETS = dict(
    fp32_ms=10.0,
    amp_ms=5.0,
    memory_gb=PAPER['gb'],
    train_speedup=1.5,
    train_memory_gb=20.0,
    pascal_hours=12.0)
MIB_PER_GB = 1e9 / 2**20  # GB = 10^9 bytes, as the paper's
LOG_TAIL_LINES = 25


class ReportError(Exception):
    """A problem the user can fix: one line, exit code 2."""


# -- the wheelhouse ----------------------------------------------------------
def check_wheelhouse(path: str) -> str:
    """Check a wheelhouse of ``tools/offline/make_wheelhouse.py``.

    It must be a folder with mmcv's source (``mmcv-*.tar.gz``) and a
    hsnet-mm wheel or sdist; when it has a ``MANIFEST``, every file listed
    there must be present, with the size it states.

    Returns:
        str: One line on what it holds.

    Raises:
        ReportError: what is missing or wrong.
    """
    if not osp.isdir(path):
        raise ReportError(f'wheelhouse {path}: no such folder (make one with '
                          '`make wheelhouse`)')
    names = sorted(os.listdir(path))

    def first(*patterns: str) -> Optional[str]:
        for pattern in patterns:
            found = sorted(glob.glob(osp.join(glob.escape(path), pattern)))
            if found:
                return osp.basename(found[0])
        return None

    mmcv = first('mmcv-*.tar.gz')
    if mmcv is None:
        raise ReportError(f"wheelhouse {path} has no mmcv source "
                          '(mmcv-2.1.0.tar.gz)')
    hsnet = first('hsnet_mm-*.whl', 'hsnet_mm-*.tar.gz', 'hsnet-mm-*.tar.gz')
    if hsnet is None:
        raise ReportError(f'wheelhouse {path} has no hsnet-mm package '
                          '(hsnet_mm-*.whl)')
    parts = [mmcv, hsnet]
    manifest = osp.join(path, 'MANIFEST')
    if osp.isfile(manifest):
        fields, listed = read_manifest(manifest)
        for name, size in listed.items():
            file = osp.join(path, name)
            if not osp.isfile(file):
                raise ReportError(f'wheelhouse {path}: {name} is listed in '
                                  'its MANIFEST but missing')
            if size is not None and osp.getsize(file) != size:
                raise ReportError(
                    f'wheelhouse {path}: {name} has {osp.getsize(file)} '
                    f'bytes, its MANIFEST says {size} (an incomplete copy?)')
        about = ', '.join(f'{k} {fields[k]}' for k in ('mode', 'python')
                          if k in fields)
        parts.append(f'MANIFEST: {len(listed)} files present'
                     f'{", " + about if about else ""}')
    else:
        parts.append('no MANIFEST')
    size_mb = sum(
        osp.getsize(osp.join(path, n))
        for n in names if osp.isfile(osp.join(path, n))) / 1e6
    return (f'wheelhouse {path}: {len(names)} files, {size_mb:.1f} MB ('
            f'{"; ".join(parts)})')


def read_manifest(path: str):
    """``key: value`` fields and the listed files (name -> size or None)
    of a wheelhouse MANIFEST."""
    fields: Dict[str, str] = {}
    listed: Dict[str, Optional[int]] = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            m = re.fullmatch(r'(?:(\d+)\s+)?(\S+\.(?:whl|tar\.gz|zip|tgz))',
                             line)
            if m:
                listed[m[2]] = int(m[1]) if m[1] else None
                continue
            key, sep, value = line.partition(':')
            if sep and value.strip():
                fields.setdefault(key.strip(), value.strip())
    return fields, listed


# -- the report --------------------------------------------------------------
def report_paths(out: str):
    return osp.join(out, 'gpu_report.json'), osp.join(out, 'gpu_report.md')


def load(out: str) -> dict:
    path = report_paths(out)[0]
    if not osp.isfile(path):
        raise ReportError(f'{path} is missing: run `init` first')
    with open(path) as f:
        return json.load(f)


def save(out: str, report: dict) -> None:
    """Write the JSON and the Markdown, each atomically."""
    report['targets'] = targets(report)
    json_path, md_path = report_paths(out)
    for path, text in ((json_path, json.dumps(report, indent=1) + '\n'),
                       (md_path, render(report))):
        tmp = f'{path}.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, path)


def machine_info(python: str) -> dict:
    """The machine: GPU (nvidia-smi), cores, Python and PyTorch of the
    interpreter the steps run with."""
    info = dict(
        host=platform.node(),
        cpu_cores=os.cpu_count(),
        python_path=python,
        python=platform.python_version())

    def run(cmd: List[str]) -> Optional[str]:
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    gpus = run([
        'nvidia-smi', '--query-gpu=name,memory.total,driver_version',
        '--format=csv,noheader'
    ])
    info['gpus'] = gpus and '; '.join(gpus.splitlines())
    torch = run([
        python, '-c', 'import json, torch; print(json.dumps(dict('
        'torch=torch.__version__, cuda=torch.version.cuda, '
        'cuda_available=torch.cuda.is_available(), '
        'device=torch.cuda.get_device_name() if torch.cuda.is_available() '
        'else None)))'
    ])
    info.update(json.loads(torch) if torch else dict(torch=None))
    return info


def read_plan(path: str) -> List[dict]:
    steps = []
    with open(path) as f:
        for line in f:
            if line.strip():
                name, timeout, command = line.rstrip('\n').split('\t', 2)
                steps.append(
                    dict(
                        name=name,
                        timeout_s=int(timeout),
                        command=command,
                        status='pending'))
    return steps


def init(out: str, wheelhouse: str, plan: str, python: str) -> dict:
    os.makedirs(out, exist_ok=True)
    report = dict(
        started=datetime.datetime.now().astimezone().isoformat(
            timespec='seconds'),
        wheelhouse=wheelhouse,
        machine=machine_info(python),
        paper_table5=PAPER,
        target_values=TARGETS,
        steps=read_plan(plan),
        finished=None)
    save(out, report)
    return report


def status_of(rc: int) -> str:
    return {0: 'ok', 124: 'timed out', 137: 'timed out'}.get(rc, 'failed')


def read_log(path: str) -> List[str]:
    """The lines of a step's log (none when it is missing)."""
    if not osp.isfile(path):
        return []
    with open(path, errors='replace') as f:
        return [line.rstrip('\n') for line in f]


def summarise(name: str, log: List[str], rc: int) -> str:
    """One line on what a step's log says."""
    if name == 'tests':
        for line in reversed(log):
            if re.search(
                    r'\b(passed|failed|skipped|deselected|error|'
                    r'no tests ran)\b', line):
                return line.strip('= ')
        if rc == 5:
            return 'no test selected by -m cuda'
    if name.startswith(('amp', 'ddp')):
        losses = [line for line in log if re.search(r'\bloss[:=]', line)]
        if not losses:  # the error, or where it stopped
            return log[-1].strip()[-200:] if log else 'no output'
        text = f'last: {losses[-1].strip()[-160:]}'
        backends = re.findall(r"dist_cfg: \{'backend': '(\w+)'",
                              '\n'.join(log))
        if name.startswith('ddp') and backends:
            text += f'; backend {backends[-1]}'
        return text
    return log[-1].strip()[-200:] if log else ''


def add_step(out: str, name: str, rc: int, seconds: float,
             bench: Optional[str], model: Optional[str]) -> dict:
    report = load(out)
    step = next((s for s in report['steps'] if s['name'] == name), None)
    if step is None:
        step = dict(name=name, timeout_s=None, command=None)
        report['steps'].append(step)
    log = read_log(osp.join(out, 'logs', f'{name}.log'))
    step.update(
        status='no tests' if name == 'tests' and rc == 5 else status_of(rc),
        rc=rc,
        seconds=round(seconds, 1),
        summary=summarise(name, log, rc),
        log_tail=[line[:300] for line in log[-LOG_TAIL_LINES:]])
    if bench:
        step['model'] = model
        step['bench'] = read_bench(bench)
    save(out, report)
    return report


def read_bench(path: str) -> Optional[dict]:
    """What the report keeps of a matrix JSON (None: not written)."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    rows = data.get('results', [])
    return dict(
        file=path,
        complete=data.get('complete', False),
        measured=sum(r.get('status') == 'ok' for r in rows),
        configurations=len(rows),
        settings=data.get('settings'),
        table=data.get('table'),
        epoch_summary=data.get('epoch_summary'),
        estimates=(data.get('epoch') or {}).get('estimates', []),
        results=rows)


def finish(out: str, seconds: float) -> dict:
    report = load(out)
    for step in report['steps']:
        if step['status'] == 'pending':
            step['status'] = 'not run'
    report['finished'] = dict(
        at=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        seconds=round(seconds, 1))
    save(out, report)
    return report


# -- targets -----------------------------------------------------------------
def _row(bench: Optional[dict], **match) -> Optional[dict]:
    for r in (bench or {}).get('results', []):
        if r.get('status') == 'ok' and all(
                r.get(k) == v for k, v in match.items()):
            return r
    return None


def _bench(report: dict, model: str) -> Optional[dict]:
    for step in report['steps']:
        if step.get('model') == model and step.get('bench'):
            return step['bench']
    return None


def _verdict(value: Optional[float], limit: float, at_least=False):
    if value is None:
        return 'pending'
    ok = value >= limit if at_least else value < limit
    return 'yes' if ok else 'no'


def targets(report: dict) -> List[dict]:
    """The issue's targets with the measured values (None: not measured,
    the step not run, cut short or failed)."""
    r101, r50 = _bench(report, 'R101'), _bench(report, 'R50')
    infer = dict(mode='inference', shot=1, batch_size=1, impl='fast')
    fp32 = _row(r101, precision='fp32', **infer)
    amp = _row(r101, precision='amp', **infer)
    train = dict(mode='train', shot=1, batch_size=20, precision='amp')
    fast = _row(r50, impl='fast', **train)
    ref = _row(r50, impl='reference', **train)
    ref_fp32 = _row(r50, impl='reference', **dict(train, precision='fp32'))
    est = next((e for e in (r50 or {}).get('estimates', [])
                if (e['impl'], e['precision']) == ('fast', 'amp')), None)

    def gb(row):
        return row and row['peak_mem_total_mib'] / MIB_PER_GB

    speedup = fast and ref and ref['median_ms'] / fast['median_ms']
    rows = [
        dict(
            what='R101 1-shot 400 px inference, batch 1, fp32',
            paper=f"{PAPER['ms']} ms",
            target=f"< {TARGETS['fp32_ms']:g} ms",
            value=fp32 and fp32['median_ms'],
            shown=fp32 and f"{fp32['median_ms']:.2f} ms",
            met=_verdict(fp32 and fp32['median_ms'], TARGETS['fp32_ms'])),
        dict(
            what='R101 1-shot 400 px inference, batch 1, AMP',
            paper='-',
            target=f"< {TARGETS['amp_ms']:g} ms",
            value=amp and amp['median_ms'],
            shown=amp and f"{amp['median_ms']:.2f} ms",
            met=_verdict(amp and amp['median_ms'], TARGETS['amp_ms'])),
        dict(
            what='R101 1-shot inference peak memory (weights included), '
            'fp32',
            paper=f"{PAPER['gb']} GB",
            target=f"< {TARGETS['memory_gb']} GB",
            value=gb(fp32),
            shown=fp32
            and (f"{gb(fp32):.2f} GB (AMP "
                 f"{gb(amp):.2f} GB)" if amp else f'{gb(fp32):.2f} GB'),
            met=_verdict(gb(fp32), TARGETS['memory_gb'])),
        dict(
            what='R101 1-shot episode, GFLOPs',
            paper=f"{PAPER['gflops']} GFLOPs",
            target='-',
            value=None,
            shown='not measured here (get_flops.py, device-independent)',
            met='-'),
        dict(
            what='training step R50 batch 20 AMP, fast vs reference (AMP)',
            paper='-',
            target=f">= {TARGETS['train_speedup']:g}x",
            value=speedup,
            shown=speedup
            and (f"{speedup:.2f}x ({fast['median_ms']:.0f} vs "
                 f"{ref['median_ms']:.0f} ms" +
                 (f"; vs reference fp32 "
                  f"{ref_fp32['median_ms'] / fast['median_ms']:.2f}x)"
                  if ref_fp32 else ')')),
            met=_verdict(speedup, TARGETS['train_speedup'], at_least=True)),
        dict(
            what='training step R50 batch 20 AMP, peak memory (fast)',
            paper='about 20 GB (official, fp32)',
            target=f"< {TARGETS['train_memory_gb']:g} GB",
            value=gb(fast),
            shown=fast and f'{gb(fast):.2f} GB',
            met=_verdict(gb(fast), TARGETS['train_memory_gb'])),
        dict(
            what='200 PASCAL-5i epochs, R50 batch 20 AMP, validation '
            'included (estimate)',
            paper='about 2 days on 4 GPUs (official, up to 2000 epochs)',
            target=f"< {TARGETS['pascal_hours']:g} h",
            value=est and est['total_h'],
            shown=est and (f"{est['total_h']:.1f} h (step "
                           f"{est['step_ms']:.0f} ms from batch "
                           f"{est['step_from_batch']})"),
            met=_verdict(est and est['total_h'], TARGETS['pascal_hours'])),
    ]
    return rows


# -- Markdown ----------------------------------------------------------------
def render(report: dict) -> str:
    m = report['machine']
    fin = report.get('finished')
    lines = [
        '# hsnet-mm GPU check', '', f"Started {report['started']}; " +
        (f"finished in {fin['seconds']:.0f} s."
         if fin else 'not finished (cut short, or still running).'),
        f"Machine: {m.get('gpus') or m.get('device') or 'no GPU found'}; "
        f"{m.get('cpu_cores')} CPU cores; Python {m.get('python')}; "
        f"PyTorch {m.get('torch')} (CUDA {m.get('cuda')}, available: "
        f"{m.get('cuda_available')}).", f"Wheelhouse: {report['wheelhouse']}",
        '', '## Targets beside the paper\'s Table 5', '',
        '| what | paper (Table 5) | target | measured | met |',
        '| --- | --- | --- | --- | --- |'
    ]
    for t in report['targets']:
        lines.append(f"| {t['what']} | {t['paper']} | {t['target']} | "
                     f"{t['shown'] or 'pending'} | {t['met']} |")
    lines += [
        '', 'Memory: `torch.cuda.max_memory_allocated` growth during a '
        'step plus the weights, gradients, optimizer state and episode '
        'tensors; 1 GB = 10^9 bytes.', '', '## Steps', '',
        '| step | status | seconds | timeout | summary |',
        '| --- | --- | --- | --- | --- |'
    ]
    for s in report['steps']:
        summary = (s.get('summary') or '').replace('|', '/')
        lines.append(f"| {s['name']} | {s['status']} | "
                     f"{s.get('seconds', '-')} | {s.get('timeout_s', '-')} | "
                     f'{summary} |')
    for s in report['steps']:
        if s['status'] in ('pending', 'not run'):
            continue
        lines += ['', f"### {s['name']} ({s['status']})", '']
        if s.get('command'):
            lines += ['```shell', s['command'], '```', '']
        bench = s.get('bench')
        if bench:
            lines.append(f"{s.get('model')}: {bench['measured']} of "
                         f"{bench['configurations']} configurations "
                         'measured' +
                         ('' if bench['complete'] else ' (cut short)') + '.')
            if bench.get('table'):
                lines += ['', bench['table']]
            if bench.get('epoch_summary'):
                lines += ['', '```', *bench['epoch_summary'], '```']
        elif s.get('model'):
            lines.append('No benchmark results were written.')
        if s.get('log_tail'):
            lines += [
                '', 'Log (last lines):', '', '```', *s['log_tail'], '```'
            ]
    return '\n'.join(lines) + '\n'


# -- command line ------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='gpu_check_report.py',
        description='the report of tools/gpu_check.sh')
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('check-wheelhouse')
    p.add_argument('wheelhouse')
    p = sub.add_parser('init')
    p.add_argument('out')
    p.add_argument('--wheelhouse', required=True)
    p.add_argument('--plan', required=True)
    p.add_argument('--python', default=sys.executable)
    p = sub.add_parser('step')
    p.add_argument('out')
    p.add_argument('--name', required=True)
    p.add_argument('--rc', type=int, required=True)
    p.add_argument('--seconds', type=float, required=True)
    p.add_argument('--bench', help='the matrix JSON of a benchmark step')
    p.add_argument('--model', help='R101 or R50, with --bench')
    p = sub.add_parser('finish')
    p.add_argument('out')
    p.add_argument('--seconds', type=float, required=True)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == 'check-wheelhouse':
        print(check_wheelhouse(args.wheelhouse))
    elif args.command == 'init':
        report = init(args.out, args.wheelhouse, args.plan, args.python)
        if not report['machine'].get('cuda_available'):
            raise ReportError(
                f"no CUDA device visible to {args.python} (PyTorch "
                f"{report['machine'].get('torch')}); "
                '--dry-run checks the wheelhouse on a CPU')
    elif args.command == 'step':
        add_step(args.out, args.name, args.rc, args.seconds, args.bench,
                 args.model)
    else:
        finish(args.out, args.seconds)
    return 0


def run_cli(main: Callable[[], int]) -> NoReturn:
    """The tools' error boundary (:func:`hsnet_mm.utils.run_cli`) for a
    script that runs before hsnet-mm is installed (standard library only):
    a user error is one line on stderr and exit code 2."""
    try:
        code = main()
    except ReportError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == '__main__':
    run_cli(main)
