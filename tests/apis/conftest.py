# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Fixtures of the API tests."""
import pytest
import torch

import hsnet_mm  # noqa: F401
from hsnet_mm.apis import init_model
from tests.apis.episode_helpers import tiny_config


@pytest.fixture(scope='module')
def model():
    """The tiny HSNet (seeded weights) with a test pipeline, per module."""
    torch.manual_seed(0)
    return init_model(tiny_config())
