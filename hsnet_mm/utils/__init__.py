# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .checkpoint import (CheckpointMismatchError, NonFiniteCheckpointError,
                         build_model_skeleton, check_checkpoint, check_finite,
                         check_state_dict, compare_state_dicts,
                         load_checkpoint_file, load_state_dict, load_weights,
                         save_checkpoint_file, state_dict_shapes)
from .collect_env import collect_env
from .config import (apply_global_batch_size,
                     drop_persistent_workers_without_workers,
                     launcher_world_size, use_original_size_protocol)
from .config_check import (UnknownConfigKeyError, check_config_keys,
                           exit_on_unknown_keys)
from .dist import (cpu_model_wrapper_cfg, destroy_dist_if_initialized,
                   init_cpu_dist_if_needed, setup_cfg_for_launcher)
from .fileio import (NoSpaceError, atomic_dump_json, atomic_write_bytes,
                     atomic_write_text, check_writable, remove_temp_files)
from .runner_setup import (add_runner_args, build_runner, load_config,
                           parse_runner_args, use_multi_seed_test)
from .safe_globals import (register_safe_globals,
                           safe_globals_for_runner_checkpoints)

__all__ = [
    'CheckpointMismatchError', 'build_model_skeleton', 'check_checkpoint',
    'check_state_dict', 'compare_state_dicts', 'load_state_dict',
    'load_weights', 'save_checkpoint_file', 'state_dict_shapes',
    'apply_global_batch_size', 'drop_persistent_workers_without_workers',
    'launcher_world_size', 'use_original_size_protocol', 'atomic_dump_json',
    'atomic_write_bytes', 'atomic_write_text', 'collect_env',
    'cpu_model_wrapper_cfg', 'destroy_dist_if_initialized',
    'init_cpu_dist_if_needed', 'load_checkpoint_file', 'register_safe_globals',
    'safe_globals_for_runner_checkpoints', 'setup_cfg_for_launcher',
    'NonFiniteCheckpointError', 'check_finite', 'NoSpaceError',
    'check_writable', 'remove_temp_files', 'UnknownConfigKeyError',
    'check_config_keys', 'exit_on_unknown_keys', 'add_runner_args',
    'build_runner', 'load_config', 'parse_runner_args', 'use_multi_seed_test'
]
