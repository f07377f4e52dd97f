# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
from mmengine.config import Config

import hsnet_mm  # noqa: F401
from hsnet_mm.apis import init_model
from hsnet_mm.utils import CheckpointMismatchError, UserError
from tests.apis.episode_helpers import INPUT_HW, tiny_files
from tests.helpers import tiny_hsnet_cfg


def config():
    return Config(dict(model=tiny_hsnet_cfg(), default_scope='mmseg'))


def test_init_model_with_and_without_checkpoint(tmp_path):
    torch.manual_seed(0)
    fresh = init_model(config())
    assert not fresh.training and fresh.cfg.model.type == 'HSNet'
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=fresh.state_dict(), meta={}), path)
    torch.manual_seed(1)
    loaded = init_model(config(), str(path))
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    q, s, m = (torch.randn(1, 3, 64,
                           64), torch.randn(1, 1, 3, 64,
                                            64), torch.ones(1, 1, 64, 64))
    inputs = dict(query_img=q, support_imgs=s, support_masks=m)
    torch.testing.assert_close(
        loaded.encode_decode(inputs), fresh.encode_decode(inputs))


def test_init_model_refuses_bad_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError):
        init_model(config(), str(tmp_path / 'missing.pth'))
    path = tmp_path / 'other.pth'
    state = init_model(config()).state_dict()
    state.pop('decode_head.conv_seg.bias')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(CheckpointMismatchError, match='conv_seg.bias'):
        init_model(config(), str(path))


def test_export_directory(tmp_path):
    """An export is accepted alone or where the checkpoint goes, run by
    the backend asked for; what cannot work is refused, named."""
    from hsnet_mm.deploy import DeployedHSNet, export_onnx
    cfg_path, ckpt = tiny_files(tmp_path)
    model = init_model(cfg_path, ckpt)
    out = tmp_path / 'export'
    export_onnx(model, model.cfg, str(out), img_size=INPUT_HW)
    alone = init_model(str(out))
    assert isinstance(alone, DeployedHSNet) and alone.backend == 'onnxruntime'
    # (OpenVINO is run in subprocesses only: tests/deploy/runtime_process)
    beside = init_model(cfg_path, str(out), backend='onnxruntime')
    assert beside.backend == 'onnxruntime'
    with pytest.raises(UserError, match="run it with backend 'onnxruntime'"):
        init_model(cfg_path, str(out), backend='pytorch')
    with pytest.raises(UserError, match='runs an exported model.*tiny.pth'):
        init_model(cfg_path, ckpt, backend='openvino')
    with pytest.raises(UserError, match='backend must be one of'):
        init_model(cfg_path, ckpt, backend='tvm')
    with pytest.raises(UserError, match='runs on the CPU'):
        init_model(str(out), device='cuda:0')
    with pytest.raises(UserError, match='give it alone'):
        init_model(str(out), ckpt)
    with pytest.raises(UserError, match='another model config'):
        init_model(
            cfg_path, str(out), cfg_options={'model.decode_head.channels': 16})
