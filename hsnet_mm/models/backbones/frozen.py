# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A frozen feature extractor, shared by the HSNet backbones."""
import torch.nn as nn


class FrozenBackboneMixin:
    """Freeze a backbone by config (``frozen=True``), as HSNet does.

    A frozen backbone has no trainable parameters, builds no autograd graph
    (subclasses run their forward under
    ``torch.set_grad_enabled(... and not self.frozen)``) and stays in eval
    mode even inside a model in train mode, so BatchNorm always uses (and
    never updates) its running statistics.
    """
    frozen: bool = False

    def _set_frozen(self, frozen: bool) -> None:
        """Record ``frozen`` and, if set, freeze parameters and modes."""
        self.frozen = frozen
        if frozen:
            for param in self.parameters():
                param.requires_grad = False
            self._keep_eval()

    def _keep_eval(self) -> None:
        for child in self.modules():
            child.training = False

    def train(self, mode: bool = True) -> nn.Module:
        """Set train mode; a frozen backbone always stays in eval mode."""
        super().train(mode)
        if self.frozen:
            self._keep_eval()
        return self
