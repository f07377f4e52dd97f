# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from types import SimpleNamespace

from hsnet_mm.engine import EpisodeProgressBarHook


def test_counts_episodes_and_stops_at_the_total(capsys):
    runner = SimpleNamespace(
        test_dataloader=SimpleNamespace(dataset=list(range(5))))
    hook = EpisodeProgressBarHook()
    hook.before_test_epoch(runner)
    for i in range(3):  # batches of 2, the last one padded
        hook.after_test_iter(runner, i, None, [object(), object()])
    out = capsys.readouterr().out
    assert '2/5' in out and '4/5' in out and '5/5' in out
    assert '6/5' not in out
    assert out.endswith('\n')  # the line ends before the metric's logs
    hook.after_test_epoch(runner, {})
    assert capsys.readouterr().out == ''  # no second newline


def test_epoch_end_closes_an_unfinished_bar(capsys):
    runner = SimpleNamespace(
        test_dataloader=SimpleNamespace(dataset=list(range(5))))
    hook = EpisodeProgressBarHook()
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, None, [object()])
    assert not capsys.readouterr().out.endswith('\n')
    hook.after_test_epoch(runner, {})
    assert capsys.readouterr().out == '\n'
