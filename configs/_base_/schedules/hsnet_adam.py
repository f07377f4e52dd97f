# HSNet's official recipe (juhongm999/hsnet train.py): Adam, lr 1e-3, no
# weight decay, no LR schedule; 2000 epochs (--niter), validation after every
# epoch, the checkpoint with the best val mIoU kept ("choose the best model
# when val mIoU saturates").
#
# Epoch-based on purpose: an epoch is the official unit (one pass over the
# training pool, fresh episodes each epoch through EpisodicSampler), and the
# best model is picked per epoch as the official code does. Logs still count
# iterations (log_processor.by_epoch=False, log_metric_by_epoch=False), so
# training loss and val mIoU share one x axis in scalars.json.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='Adam', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0),
    clip_grad=None)
param_scheduler = []  # constant learning rate
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2000, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # the latest epoch (to resume) and the best val mIoU (to test); written
    # atomically, an old file removed only after the new one is complete
    checkpoint=dict(
        type='SafeCheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=1,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # stop at the first NaN/inf loss (off: check_loss.enabled=False)
    check_loss=dict(type='NonFiniteLossHook', interval=1),
    # mmseg's SegVisualizationHook draws one image per sample and cannot
    # draw an episode; this one is off until `tools/test.py --show-dir`.
    visualization=dict(type='EpisodeVisualizationHook', draw=False))
