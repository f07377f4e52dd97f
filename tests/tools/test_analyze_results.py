# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/analysis_tools/analyze_results.py: chart, gallery, weak classes."""
import json

import numpy as np
from PIL import Image


def record(idx, class_id, inter, union):
    return dict(
        episode_idx=idx,
        query_name=f'q{idx}.jpg',
        support_names=[f's{idx}.jpg'],
        class_id=class_id,
        shot=1,
        I_bg=10,
        I_fg=inter,
        U_bg=12,
        U_fg=union)


def write_pngs(show_dir, num):
    show_dir.mkdir()
    for i in range(num):
        img = np.full((20, 60, 3), 20 * i, np.uint8)
        Image.fromarray(img).save(show_dir / f'episode_{i:05d}.png')


def test_multi_seed_file(run_tool, ok, tmp_path):
    episodes = [record(i, i % 2, i, 10) for i in range(6)]
    runs = [
        dict(
            seed=s,
            mIoU=0.0,
            class_ids=[0, 1],
            class_iou=dict(cat=20.0 + s, dog=70.0 - s),
            episodes=episodes) for s in (0, 1)
    ]
    summary = dict(
        class_iou=dict(
            cat=dict(mean=20.5, min=20.0, max=21.0),
            dog=dict(mean=69.5, min=69.0, max=70.0)))
    results = tmp_path / 'multi.json'
    results.write_text(json.dumps(dict(runs=runs, summary=summary)))
    write_pngs(tmp_path / 'vis', 6)
    out_dir = tmp_path / 'analysis'
    stdout = ok(
        run_tool([
            'tools/analysis_tools/analyze_results.py',
            str(results), '--out-dir',
            str(out_dir), '--show-dir',
            str(tmp_path / 'vis'), '--num', '2', '--threshold', '50'
        ]))
    for name in ('class_iou.png', 'worst_episodes.png', 'best_episodes.png'):
        img = Image.open(out_dir / name)
        assert min(img.size) >= 100, name
    assert 'worst episodes (IoU): 0 (0.0), 1 (10.0)' in stdout
    assert 'best episodes (IoU): 5 (50.0), 4 (40.0)' in stdout
    assert stdout.rstrip().endswith('1 of 2 classes below IoU 50: cat (20.5)')


def test_single_run_file_and_missing_pngs(run_tool, ok, tmp_path):
    # class 3: I 6 / U 20 = 30; class 4: 18 / 20 = 90
    episodes = [record(0, 3, 2, 10), record(1, 3, 4, 10)]
    episodes += [record(2, 4, 9, 10), record(3, 4, 9, 10)]
    results = tmp_path / 'single.json'
    results.write_text(
        json.dumps(dict(fold_class_ids=[3, 4], episodes=episodes)))
    stdout = ok(
        run_tool(['tools/analysis_tools/analyze_results.py',
                  str(results)]))
    assert (tmp_path / 'class_iou.png').is_file()  # next to the results
    assert stdout.rstrip().endswith('0 of 2 classes below IoU 30')
    stdout = ok(
        run_tool([
            'tools/analysis_tools/analyze_results.py',
            str(results), '--threshold', '31'
        ]))
    assert stdout.rstrip().endswith('1 of 2 classes below IoU 31: 3 (30.0)')
    proc = run_tool([
        'tools/analysis_tools/analyze_results.py',
        str(results), '--show-dir',
        str(tmp_path / 'nowhere')
    ])
    assert proc.returncode != 0 and 'episode_00000.png is missing' in (
        proc.stderr)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"metrics": {}}')
    proc = run_tool(['tools/analysis_tools/analyze_results.py', str(bad)])
    assert proc.returncode != 0 and 'not a tools/test.py --out' in proc.stderr
