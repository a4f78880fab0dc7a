"""Kinetix environment: the gymnax-style 2D physics RL environment on top of ``jax2d``.

Public names follow ``kinetix-env==3.0.2`` so code written for it runs unchanged, e.g.::

    from kinetix.environment import (
        ActionType, EnvParams, ObservationType, make_kinetix_env, static_env_params_from_size,
    )

Observation functions other than the built-in ``"blind"`` one are registered by other
distributions (``pip install kinetix-render``) through the ``kinetix.observations`` entry points;
see :mod:`kinetix.environment.observations`.
"""

from kinetix.environment.actions import (
    ActionType,
    ContinuousActions,
    DiscreteActions,
    KinetixAction,
    MultiDiscreteActions,
    get_valid_action_mask,
    valid_binding_mask,
)
from kinetix.environment.env import KinetixDummyEnv, KinetixEnv, make_kinetix_env
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.expansion import LevelTooLargeError, expand_env_state
from kinetix.environment.level_json import (
    LevelFormatError,
    export_env_state_to_json,
    import_env_state_from_json,
)
from kinetix.environment.levels import (
    HandmadeLevel,
    handmade_level_names,
    load_evaluation_levels,
    load_from_json_file,
    load_handmade_suite,
    stack_list_of_pytrees,
)
from kinetix.environment.observations import (
    BlindObservations,
    KinetixObservation,
    ObservationType,
    get_observation_registry,
)
from kinetix.environment.spaces import MultiDiscrete
from kinetix.environment.ued import (
    UEDParams,
    create_random_starting_distribution,
    make_mutate_env,
    make_reset_fn_from_config,
    make_vmapped_filtered_level_sampler,
    sample_kinetix_level,
)
from kinetix.environment.utils import (
    create_empty_env,
    permute_state,
    static_env_params_from_size,
)
from kinetix.environment.wrappers import LogEnvState, LogWrapper

__all__ = [
    "ActionType",
    "BlindObservations",
    "ContinuousActions",
    "DiscreteActions",
    "EnvParams",
    "EnvState",
    "HandmadeLevel",
    "KinetixAction",
    "KinetixDummyEnv",
    "KinetixEnv",
    "KinetixObservation",
    "LevelFormatError",
    "LevelTooLargeError",
    "LogEnvState",
    "LogWrapper",
    "MultiDiscrete",
    "MultiDiscreteActions",
    "ObservationType",
    "StaticEnvParams",
    "UEDParams",
    "create_empty_env",
    "create_random_starting_distribution",
    "expand_env_state",
    "export_env_state_to_json",
    "get_observation_registry",
    "get_valid_action_mask",
    "handmade_level_names",
    "import_env_state_from_json",
    "load_evaluation_levels",
    "load_from_json_file",
    "load_handmade_suite",
    "make_kinetix_env",
    "make_mutate_env",
    "make_reset_fn_from_config",
    "make_vmapped_filtered_level_sampler",
    "permute_state",
    "sample_kinetix_level",
    "stack_list_of_pytrees",
    "static_env_params_from_size",
    "valid_binding_mask",
]
