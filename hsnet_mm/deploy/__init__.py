# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Export to ONNX and run the export with ONNX Runtime or OpenVINO."""
from .deployed_segmentor import DeployedHSNet
from .manifest import is_export_dir, read_manifest
from .onnx_export import export_onnx

__all__ = ['DeployedHSNet', 'export_onnx', 'is_export_dir', 'read_manifest']
