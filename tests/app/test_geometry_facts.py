"""A grid's spacing, orientation and usability are remembered by its affine's values: the
answers always follow the values the grid holds now."""

from __future__ import annotations

import numpy as np

from app.geometry import Grid, unusable


def test_the_facts_follow_the_affine_values_even_changed_in_place():
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    grid = Grid.of((10, 10, 4), affine)  # shares the array's memory
    assert grid.spacing == (0.8, 0.8, 2.5)
    assert grid.orientation == "RAS" and unusable(grid) is None
    affine[0, 0] = -1.5  # the same array, other values: other answers
    assert grid.spacing == (1.5, 0.8, 2.5) and grid.orientation == "LAS"
    affine[2, 2] = 0.0
    assert unusable(grid) == "a zero voxel size" and grid.orientation == "???"
    affine[2, 2] = np.nan
    assert unusable(grid) == "NaN or infinite values in its affine"
    assert Grid.of((3, 3, 3), np.diag([0.8, 0.8, 2.5, 1.0])).orientation == "RAS"


def test_an_integer_affine_gives_the_values_of_its_floats():
    grid = Grid((4, 4, 4), np.diag([2, 3, 4, 1]))
    assert grid.spacing == (2.0, 3.0, 4.0) and grid.orientation == "RAS"
