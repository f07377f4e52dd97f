# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Helpers for a frozen feature extractor (shared by the HSNet backbones)."""
import torch.nn as nn


def freeze_parameters(module: nn.Module) -> None:
    """Turn off gradients of every parameter of ``module``."""
    for param in module.parameters():
        param.requires_grad = False


def keep_frozen_eval(module: nn.Module) -> None:
    """Put ``module`` and all its children in eval mode.

    A frozen backbone stays in eval mode even inside a model in train mode,
    so BatchNorm always uses (and never updates) its running statistics, as
    the official HSNet does.
    """
    for child in module.modules():
        child.training = False
