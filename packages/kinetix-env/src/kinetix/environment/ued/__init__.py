"""Procedural levels and level editing for unsupervised environment design (UED).

``sample_kinetix_level`` draws levels from the Kinetix distribution; the ``mutate_*`` functions
add, remove and edit shapes, joints and thrusters (the building blocks of the distribution and of
ACCEL); ``make_mutate_env`` is ACCEL's random editor.
"""

from kinetix.environment.ued.distributions import (
    create_random_starting_distribution,
    sample_kinetix_level,
)
from kinetix.environment.ued.mutators import (
    mutate_add_connected_shape,
    mutate_add_connected_shape_proper,
    mutate_add_shape,
    mutate_add_thruster,
    mutate_change_gravity,
    mutate_change_shape_location,
    mutate_change_shape_rotation,
    mutate_change_shape_size,
    mutate_remove_joint,
    mutate_remove_shape,
    mutate_remove_thruster,
    mutate_swap_role,
    mutate_toggle_fixture,
)
from kinetix.environment.ued.ued import (
    ALL_MUTATION_FNS,
    make_mutate_env,
    make_reset_fn_from_config,
    make_reset_fn_list_of_levels,
    make_reset_fn_sample_empty_level,
    make_reset_fn_sample_kinetix_level,
    make_vmapped_filtered_level_sampler,
)
from kinetix.environment.ued.ued_state import UEDParams

__all__ = [
    "ALL_MUTATION_FNS",
    "UEDParams",
    "create_random_starting_distribution",
    "make_mutate_env",
    "make_reset_fn_from_config",
    "make_reset_fn_list_of_levels",
    "make_reset_fn_sample_empty_level",
    "make_reset_fn_sample_kinetix_level",
    "make_vmapped_filtered_level_sampler",
    "mutate_add_connected_shape",
    "mutate_add_connected_shape_proper",
    "mutate_add_shape",
    "mutate_add_thruster",
    "mutate_change_gravity",
    "mutate_change_shape_location",
    "mutate_change_shape_rotation",
    "mutate_change_shape_size",
    "mutate_remove_joint",
    "mutate_remove_shape",
    "mutate_remove_thruster",
    "mutate_swap_role",
    "mutate_toggle_fixture",
    "sample_kinetix_level",
]
