# Runtime shared by every hsnet-mm config: registry scope, environment,
# logging and visualisation backends. Schedules live in `schedules/`.
default_scope = 'mmseg'
custom_imports = dict(imports=['hsnet_mm'], allow_failed_imports=False)
env_cfg = dict(
    # cuDNN autotuning, as mmseg's default: the network input size is fixed
    # (400 px; the original-size protocol resizes only the output), so the
    # convs see one shape per (batch, shot) setting and a tuned algorithm
    # serves the whole run (the sparse CPU correlation, whose shapes vary,
    # is not used on CUDA: see hsnet_mm/models/execution_policy.py)
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py and tools/test.py switch to gloo on machines without CUDA
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [
    dict(type='LocalVisBackend'),
    # TensorBoard (installed by `make`; elsewhere `pip install tensorboard`):
    # uncomment, then
    # `tensorboard --logdir work_dirs`.
    # dict(type='TensorboardVisBackend'),
]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# No test-time augmentation: HSNet's protocol evaluates one view per episode.
