# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/gpu_check.sh: its dry run and errors on a fake wheelhouse, and its
report writer (tools/gpu_check_report.py) fed with fake step results."""
import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Dummy files named like those of a partial wheelhouse.
WHEELS = ('mmcv-2.1.0.tar.gz', 'hsnet_mm-0.1.0-py3-none-any.whl',
          'mmengine-0.10.7-py3-none-any.whl',
          'mmsegmentation-1.2.2-py3-none-any.whl',
          'addict-2.4.0-py3-none-any.whl')


def fake_wheelhouse(folder: Path, names=WHEELS, manifest=True) -> Path:
    """Dummy files, the requirement lists and (``manifest``) a MANIFEST in
    the format of tools/offline/make_wheelhouse.py."""
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        (folder / name).write_bytes(b'x' * (10 + i))
    (folder / 'install-requirements.txt').write_text('hsnet-mm\n')
    (folder / 'build-requirements.txt').write_text('setuptools<81\n')
    if manifest:
        (folder / 'MANIFEST').write_text(
            '# hsnet-mm offline wheelhouse\nhsnet-mm: 0.1.0\nmode: partial\n'
            'python: 3.12\ntotal: 0.0 MB in 5 files\n\nfiles:\n' +
            ''.join(f'{(folder / n).stat().st_size:>12}  {n}\n'
                    for n in names))
    return folder


def gpu_check(run_tool, *args, env=None):
    return run_tool(['bash', 'tools/gpu_check.sh', *map(str, args)], env=env)


def plan_lines(stdout: str):
    """``{name: (timeout, command)}`` of the printed plan."""
    return {
        m[1]: (int(m[2]), m[3])
        for m in re.finditer(r'^  \d+\. (\w+) \(timeout (\d+) s\): (.*)$',
                             stdout, re.M)
    }


def test_dry_run_checks_the_wheelhouse_and_prints_the_plan(
        run_tool, ok, tmp_path):
    wheelhouse = fake_wheelhouse(tmp_path / 'wh')
    out = tmp_path / 'report'
    stdout = ok(gpu_check(run_tool, wheelhouse, '--out', out, '--dry-run'))
    assert (f'wheelhouse {wheelhouse}: 8 files' in stdout
            and 'mmcv-2.1.0.tar.gz' in stdout
            and 'hsnet_mm-0.1.0-py3-none-any.whl' in stdout and
            'MANIFEST: 5 files present, mode partial, python 3.12' in stdout)
    plan = plan_lines(stdout)
    assert list(plan) == [
        'install', 'tests', 'amp_fp16', 'amp_bf16', 'ddp_nccl', 'bench_r101',
        'bench_r50'
    ]
    # each step bounded, all of them within 5 minutes with the reports
    assert plan['install'][0] <= 130 and plan['tests'][0] <= 60
    assert plan['amp_fp16'][0] + plan['amp_bf16'][0] <= 40
    assert plan['ddp_nccl'][0] <= 30
    assert plan['bench_r101'][0] + plan['bench_r50'][0] <= 50
    total = sum(t for t, _ in plan.values())
    assert total <= 290 and f'timeouts {total} s in all' in stdout
    assert plan['install'][1].startswith(
        f'bash tools/offline/install.sh {wheelhouse}')
    assert '-m pytest -m cuda' in plan['tests'][1]
    for name, dtype in (('amp_fp16', 'float16'), ('amp_bf16', 'bfloat16')):
        command = plan[name][1]
        assert 'hsnet_r18_synthetic_1shot.py' in command
        assert '--amp' in command and dtype in command
        assert 'train_cfg.max_epochs=1' in command
    assert 'tools/dist_train.sh configs/hsnet/hsnet_r18_synthetic_1shot.py 1' \
        in plan['ddp_nccl'][1]
    assert 'env_cfg.dist_cfg.backend=nccl' in plan['ddp_nccl'][1]
    for name, config in (('bench_r101', 'hsnet_r101_pascal5i_fold0_1shot'),
                         ('bench_r50', 'hsnet_r50_pascal5i_fold0_1shot')):
        timeout, command = plan[name]
        assert f'configs/hsnet/{config}.py' in command
        assert '--device cuda --matrix --img-size 400' in command
        budget = int(re.search(r'--time-budget (\d+)', command)[1])
        assert budget < timeout
        assert f'--out {out}/{name}.json' in command
    assert stdout.rstrip().endswith('dry run: nothing was run')
    assert not out.exists()  # nothing written

    # --skip-install drops the install; a wheelhouse without a MANIFEST is
    # accepted (the install script decides)
    (wheelhouse / 'MANIFEST').unlink()
    stdout = ok(gpu_check(run_tool, wheelhouse, '--dry-run', '--skip-install'))
    assert 'no MANIFEST' in stdout
    assert 'install' not in plan_lines(stdout)


@pytest.mark.parametrize(
    'case, message',
    [('missing', 'no such folder'), ('no mmcv', 'has no mmcv source'),
     ('no hsnet-mm', 'has no hsnet-mm package'),
     ('listed but missing', 'is listed in its MANIFEST but missing'),
     ('truncated', 'has 3 bytes, its MANIFEST says 14'),
     ('no argument', 'no WHEELHOUSE given'),
     ('bad option', 'unknown option --fast'),
     ('bad budget', 'T_AMP=1m: expected a positive number of seconds')])
def test_bad_wheelhouse_or_arguments(run_tool, tmp_path, case, message):
    wheelhouse = tmp_path / 'wh'
    args = [wheelhouse, '--dry-run']
    if case == 'no mmcv':
        fake_wheelhouse(wheelhouse, WHEELS[1:], manifest=False)
    elif case == 'no hsnet-mm':
        fake_wheelhouse(wheelhouse, WHEELS[:1] + WHEELS[2:], manifest=False)
    elif case == 'listed but missing':
        fake_wheelhouse(wheelhouse)
        (wheelhouse / WHEELS[-1]).unlink()
    elif case == 'truncated':
        fake_wheelhouse(wheelhouse)
        (wheelhouse / WHEELS[4]).write_bytes(b'xxx')
    elif case == 'no argument':
        args = ['--dry-run']
    elif case == 'bad option':
        fake_wheelhouse(wheelhouse)
        args = [wheelhouse, '--fast']
    elif case == 'bad budget':
        fake_wheelhouse(wheelhouse)
    proc = gpu_check(
        run_tool,
        *args,
        env=dict(T_AMP='1m') if case == 'bad budget' else None)
    assert proc.returncode == 2
    assert proc.stderr.startswith('gpu_check.sh: error: ')
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert 'plan:' not in proc.stdout


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='the real run installs on CUDA')
def test_real_run_without_cuda_stops_at_once(run_tool, tmp_path):
    """Without CUDA nothing is installed or run: one line, exit code 2, and
    the report says which machine it was."""
    out = tmp_path / 'report'
    proc = gpu_check(run_tool, fake_wheelhouse(tmp_path / 'wh'), '--out', out)
    assert proc.returncode == 2
    assert 'gpu_check.sh: error: no CUDA device visible to' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    report = json.loads((out / 'gpu_report.json').read_text())
    assert report['machine']['cuda_available'] is False
    assert all(s['status'] == 'pending' for s in report['steps'])
    assert not (out / 'logs' / 'install.log').exists()


# -- the report writer -------------------------------------------------------
@pytest.fixture
def report_tool(monkeypatch):
    path = REPO_ROOT / 'tools' / 'gpu_check_report.py'
    spec = importlib.util.spec_from_file_location('gpu_check_report', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(
        tool, 'machine_info', lambda python: dict(
            gpus='NVIDIA H200, 143771 MiB, 570.00',
            cpu_cores=16,
            python='3.12.3',
            torch='2.11.0+cu130',
            cuda='13.0',
            cuda_available=True))
    return tool


def row(mode, batch, precision, impl, ms, mib=500.0, shot=1):
    return dict(
        mode=mode,
        shot=shot,
        batch_size=batch,
        precision=precision,
        impl=impl,
        status='ok',
        reason=None,
        median_ms=ms,
        min_ms=ms,
        max_ms=ms,
        runs=5,
        episodes_per_s=batch * 1e3 / ms,
        peak_mem_mib=mib / 2,
        peak_mem_total_mib=mib)


def test_report_written_step_by_step(report_tool, tmp_path):
    out = tmp_path / 'report'
    out.joinpath('logs').mkdir(parents=True)
    plan = tmp_path / 'plan.tsv'
    names = [
        'install', 'tests', 'amp_fp16', 'ddp_nccl', 'bench_r101', 'bench_r50'
    ]
    plan.write_text(''.join(f'{n}\t30\tcommand of {n}\n' for n in names))
    report_tool.init(str(out), '/wh', str(plan), 'python3')
    md = (out / 'gpu_report.md').read_text()
    assert 'NVIDIA H200' in md and 'not finished' in md
    assert md.count('| pending |') >= len(names)  # the steps and targets

    def step(name, rc, log, bench=None, model=None):
        (out / 'logs' / f'{name}.log').write_text(log)
        report_tool.add_step(str(out), name, rc, 12.34, bench, model)
        return (json.loads((out / 'gpu_report.json').read_text()),
                (out / 'gpu_report.md').read_text())

    report, md = step('install', 0, 'compiling\ninstalled for python3: ok\n')
    assert report['steps'][0]['status'] == 'ok'
    assert '| install | ok | 12.3 | 30 | installed for python3: ok |' in md
    report, md = step('tests', 1,
                      'F.s\n= 1 failed, 1 passed, 1 skipped in 3.2s =\n')
    assert '| tests | failed | 12.3 | 30 | 1 failed, 1 passed, 1 skipped ' \
        'in 3.2s |' in md
    report, md = step('amp_fp16', 2,
                      'Config:\ntrain.py: error: float16 needs CUDA\n')
    assert report['steps'][2]['summary'] == ('train.py: error: float16 '
                                             'needs CUDA')
    report, md = step(
        'ddp_nccl', 0, "    dist_cfg: {'backend': 'nccl'}\n" +
        'Iter(train) [2/2]  loss: 0.5123  decode.loss_ce: 0.5123\n')
    assert report['steps'][3]['summary'] == ('last: Iter(train) [2/2]  loss: '
                                             '0.5123  decode.loss_ce: 0.5123; '
                                             'backend nccl')

    # R101: fp32 under 10 ms, AMP over 5 ms, memory under 1.39 GB
    r101 = tmp_path / 'r101.json'
    r101.write_text(
        json.dumps(
            dict(
                results=[
                    row('inference', 1, 'fp32', 'fast', 8.0, mib=1000.0),
                    row('inference', 1, 'amp', 'fast', 6.0, mib=700.0),
                    dict(
                        row('inference', 1, 'fp32', 'reference', 1.0),
                        status='skipped',
                        reason='--time-budget 18 s spent')
                ],
                table='| what | reference, ms | fast, ms |',
                epoch_summary=['PASCAL-5i epoch at batch 20: 570 steps'],
                epoch=dict(estimates=[]),
                complete=False)))
    report, md = step('bench_r101', 124, 'cut\n', str(r101), 'R101')
    assert report['steps'][4]['status'] == 'timed out'
    assert report['steps'][4]['bench']['measured'] == 2
    targets = {t['what']: t for t in report['targets']}
    fp32 = targets['R101 1-shot 400 px inference, batch 1, fp32']
    assert (fp32['value'], fp32['met'], fp32['paper']) == (8.0, 'yes',
                                                           '25.51 ms')
    assert targets['R101 1-shot 400 px inference, batch 1, AMP']['met'] \
        == 'no'
    memory = targets['R101 1-shot inference peak memory (weights included)'
                     ', fp32']
    assert memory['value'] == pytest.approx(1000 * 2**20 / 1e9)
    assert memory['met'] == 'yes' and memory['paper'] == '1.39 GB'
    assert 'R101: 2 of 3 configurations measured (cut short).' in md
    assert '| R101 1-shot 400 px inference, batch 1, fp32 | 25.51 ms | ' \
        '< 10 ms | 8.00 ms | yes |' in md
    assert '20.56 GFLOPs' in md
    for what in ('training step R50 batch 20 AMP, fast vs reference (AMP)',
                 '200 PASCAL-5i epochs, R50 batch 20 AMP, validation '
                 'included (estimate)'):
        assert targets[what]['met'] == 'pending'

    # R50: 1.6x the reference, 12 GB, 200 epochs in 9.5 h; then finish
    r50 = tmp_path / 'r50.json'
    r50.write_text(
        json.dumps(
            dict(
                results=[
                    row('train', 20, 'amp', 'fast', 300.0, mib=12e9 / 2**20),
                    row('train', 20, 'amp', 'reference', 480.0),
                    row('train', 20, 'fp32', 'reference', 900.0)
                ],
                epoch=dict(estimates=[
                    dict(
                        impl='fast',
                        precision='amp',
                        step_ms=300.0,
                        step_from_batch=20,
                        total_h=9.5)
                ]),
                complete=True)))
    report, md = step('bench_r50', 0, 'done\n', str(r50), 'R50')
    targets = {t['what']: t for t in report['targets']}
    speed = targets['training step R50 batch 20 AMP, fast vs reference (AMP)']
    assert speed['value'] == pytest.approx(1.6) and speed['met'] == 'yes'
    assert 'vs reference fp32 3.00x' in speed['shown']
    memory = targets['training step R50 batch 20 AMP, peak memory (fast)']
    assert memory['value'] == pytest.approx(12.0)
    assert memory['met'] == 'yes'
    hours = targets['200 PASCAL-5i epochs, R50 batch 20 AMP, validation '
                    'included (estimate)']
    assert (hours['value'], hours['met']) == (9.5, 'yes')
    assert 'R50: 3 of 3 configurations measured.' in md

    report_tool.finish(str(out), 250.0)
    report = json.loads((out / 'gpu_report.json').read_text())
    assert report['finished']['seconds'] == 250.0
    assert 'finished in 250 s' in (out / 'gpu_report.md').read_text()


def test_report_of_a_run_cut_short(report_tool, tmp_path):
    """A benchmark killed before its first JSON, and steps never run."""
    out = tmp_path / 'report'
    out.joinpath('logs').mkdir(parents=True)
    plan = tmp_path / 'plan.tsv'
    plan.write_text('bench_r101\t25\tpython bench\ntests\t60\tpytest\n')
    report_tool.init(str(out), '/wh', str(plan), 'python3')
    report_tool.add_step(
        str(out), 'bench_r101', 137, 30.0, str(tmp_path / 'never.json'),
        'R101')
    report = report_tool.finish(str(out), 31.0)
    assert [s['status'] for s in report['steps']] == ['timed out', 'not run']
    md = (out / 'gpu_report.md').read_text()
    assert 'No benchmark results were written.' in md
    assert all(t['met'] in ('pending', '-') for t in report['targets'])


def test_report_tool_errors(report_tool, tmp_path, capsys):

    def exit_code(argv):
        with pytest.raises(SystemExit) as exit_info:
            report_tool.run_cli(lambda: report_tool.main(argv))
        return exit_info.value.code

    assert exit_code(
        ['step',
         str(tmp_path), '--name', 'x', '--rc', '0', '--seconds', '1']) == 2
    assert 'run `init` first' in capsys.readouterr().err
    assert exit_code(['check-wheelhouse', str(tmp_path / 'no')]) == 2
    assert capsys.readouterr().err.startswith('gpu_check.sh: error: ')
