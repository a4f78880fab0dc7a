"""Procedural levels and level editing for unsupervised environment design (UED).

``sample_kinetix_level`` draws levels from the Kinetix distribution; the ``mutate_*`` functions
add shapes, jointed shapes and thrusters (the building blocks of the distribution and of ACCEL).
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
)
from kinetix.environment.ued.ued import (
    make_reset_fn_from_config,
    make_reset_fn_list_of_levels,
    make_reset_fn_sample_empty_level,
    make_reset_fn_sample_kinetix_level,
    make_vmapped_filtered_level_sampler,
)
from kinetix.environment.ued.ued_state import UEDParams

__all__ = [
    "UEDParams",
    "create_random_starting_distribution",
    "make_reset_fn_from_config",
    "make_reset_fn_list_of_levels",
    "make_reset_fn_sample_empty_level",
    "make_reset_fn_sample_kinetix_level",
    "make_vmapped_filtered_level_sampler",
    "mutate_add_connected_shape",
    "mutate_add_connected_shape_proper",
    "mutate_add_shape",
    "mutate_add_thruster",
    "sample_kinetix_level",
]
