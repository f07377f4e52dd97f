# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .checkpoint import (CheckpointMismatchError, InvalidCheckpointError,
                         NonFiniteCheckpointError, build_model_skeleton,
                         check_checkpoint, check_finite, check_state_dict,
                         compare_state_dicts, load_checkpoint_file,
                         load_state_dict, load_weights, save_checkpoint_file,
                         state_dict_shapes)
from .cli import (USER_ERRORS, UsageError, UserError, call_cli, check_device,
                  is_user_error, one_line, run_cli)
from .collect_env import collect_env, format_environment, result_environment
from .config import (apply_global_batch_size,
                     drop_persistent_workers_without_workers,
                     launcher_world_size, use_original_size_protocol)
from .config_check import (ConfigValueTypeError, UnknownConfigKeyError,
                           check_config_keys, check_option_types)
from .dist import (cpu_model_wrapper_cfg, destroy_dist_if_initialized,
                   finish_run, init_cpu_dist_if_needed, setup_cfg_for_launcher)
from .fileio import (NoSpaceError, atomic_dump_json, atomic_write_bytes,
                     atomic_write_text, check_writable, check_writable_dirs,
                     remove_temp_files)
from .pretrained import (PretrainedWeightsHook, check_pretrained_weights,
                         fetch_pretrained, hub_checkpoint_path,
                         pretrained_urls)
from .runner_setup import (add_runner_args, build_runner, build_split_dataset,
                           check_test_dataset, load_config, parse_runner_args,
                           read_config, set_output_file, setup_test_cfg,
                           use_episode_progress_bar, use_episode_visualization,
                           use_multi_seed_test)
from .safe_globals import (register_safe_globals,
                           safe_globals_for_runner_checkpoints)

__all__ = [
    'CheckpointMismatchError', 'build_model_skeleton', 'check_checkpoint',
    'check_state_dict', 'compare_state_dicts', 'load_state_dict',
    'load_weights', 'save_checkpoint_file', 'state_dict_shapes',
    'apply_global_batch_size', 'drop_persistent_workers_without_workers',
    'launcher_world_size', 'use_original_size_protocol', 'atomic_dump_json',
    'atomic_write_bytes', 'atomic_write_text', 'collect_env',
    'cpu_model_wrapper_cfg', 'destroy_dist_if_initialized', 'finish_run',
    'init_cpu_dist_if_needed', 'load_checkpoint_file', 'register_safe_globals',
    'safe_globals_for_runner_checkpoints', 'setup_cfg_for_launcher',
    'NonFiniteCheckpointError', 'check_finite', 'NoSpaceError',
    'check_writable', 'check_writable_dirs', 'remove_temp_files',
    'UnknownConfigKeyError', 'check_config_keys', 'add_runner_args',
    'build_runner', 'load_config', 'parse_runner_args', 'use_multi_seed_test',
    'InvalidCheckpointError', 'USER_ERRORS', 'UsageError', 'UserError',
    'call_cli', 'check_device', 'is_user_error', 'one_line', 'run_cli',
    'format_environment', 'result_environment', 'ConfigValueTypeError',
    'check_option_types', 'build_split_dataset', 'check_test_dataset',
    'read_config', 'set_output_file', 'setup_test_cfg',
    'use_episode_progress_bar', 'use_episode_visualization',
    'check_pretrained_weights', 'fetch_pretrained', 'hub_checkpoint_path',
    'pretrained_urls', 'PretrainedWeightsHook'
]
